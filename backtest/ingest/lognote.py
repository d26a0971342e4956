"""Decoding of DSNote call logs (Maker's Vat): selected by contract address and selector, args from calldata.

A note log is anonymous: topic0 is the 4-byte selector followed by 28 zero bytes, and `data` is the ABI
encoding of `bytes` holding the first 224 bytes of calldata (offset word, length word 224, then the
calldata: selector at byte 64, argument k at byte 68 + 32k). The arguments are read from there with the
same vectorised word conversions as ordinary events (backtest.ingest.decode), so the table has the same
metadata columns (evt_block_number, evt_tx_index, evt_index, evt_tx_hash, contract_address).
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from backtest.ingest.abi_values import convert
from backtest.ingest.decode import metadata, words
from backtest.ingest.events import Note

CALLDATA_AT = 64          # after the bytes offset and length words
PAYLOAD = 224             # DSNote copies a constant 224 bytes of calldata


def select(logs: pa.Table, note: Note, addresses: list[bytes] | None) -> pa.Table:
    """The logs that are this call: topic0 (selector), contract address, and the note's shape."""
    mask = pc.equal(logs["topic0"], pa.scalar(note.topic0, pa.binary()))
    if addresses is not None:
        mask = pc.and_(mask, pc.is_in(logs["address"], pa.array(addresses, pa.binary())))
    for i in range(1, 4):
        mask = pc.and_(mask, pc.is_valid(logs[f"topic{i}"]))
    mask = pc.and_(mask, pc.equal(pc.binary_length(logs["data"]), CALLDATA_AT + PAYLOAD))
    return logs.filter(pc.fill_null(mask, False))


def decode_note(logs: pa.Table, note: Note, addresses: list[bytes] | None = None) -> pa.Table:
    """Decoded rows of one note call in chain order; integers as decimal text plus `_f64`, like events."""
    t = select(logs, note, addresses)
    cols = metadata(t)
    for k, p in enumerate(note.params):
        w = words(t["data"], CALLDATA_AT + 4 + 32 * k)
        for suffix, arr in convert(w, p.type).items():
            cols[p.name + suffix] = arr
    return pa.table(cols)
