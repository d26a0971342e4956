"""Vectorised event decoding: every log of one event is a row of fixed 32-byte words.

Static ABI types only (all the events we support): each parameter is one word, taken from a topic
(indexed) or from `data` at 32·k (not indexed). The logs of the event are found by a mask (topic0,
contract address, shape), arrow filters them, their bytes are viewed as (rows, width) uint8 matrices, and every
conversion works on a whole column of words: addresses and bytes32 as '0x' hex text in one ASCII
buffer, small integers through a big-endian int64 view of the last 8 bytes, uint256/int256 as exact
decimal text plus a float64 copy (`_f64`, correctly rounded: equal to float(int(word))). Logs of
the right topic0 but the wrong shape (e.g. an ERC-721 Transfer next to an ERC-20 Transfer) are
skipped, never mis-decoded. `decode` scans every log for one event; `decode_many` (backtest/ingest/decoders.py, what
ingest uses) groups the logs by topic0 once, and each event then reads only its own topic0's rows.

The conversions of words to text and floats (and the compiled loops that print them) live in
backtest/ingest/abi_values.py.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from backtest.ingest.abi_values import convert, hex_array
from backtest.ingest.events import Event

META = ("evt_block_number", "evt_tx_index", "evt_index", "evt_tx_hash", "contract_address")


# -- which logs, and their bytes ---------------------------------------------------------------------

def topics_mask(logs: pa.Table | pa.RecordBatch, event: Event, addresses: list[bytes] | None) -> pa.Array:
    """topic0, contract address, and exactly the event's indexed topics present (nulls not yet filled)."""
    n_indexed = sum(p.indexed for p in event.params)
    mask = pc.equal(logs["topic0"], pa.scalar(event.topic0, pa.binary()))
    if addresses is not None:
        mask = pc.and_(mask, pc.is_in(logs["address"], pa.array(addresses, pa.binary())))
    for i in range(1, 4):
        present = pc.is_valid(logs[f"topic{i}"])
        mask = pc.and_(mask, present if i <= n_indexed else pc.invert(present))
    return mask


def event_mask(logs: pa.Table | pa.RecordBatch, event: Event, addresses: list[bytes] | None) -> pa.Array:
    """True where a log is this event: topic0, contract address, and the event's shape."""
    n_data = 32 * sum(not p.indexed for p in event.params)
    mask = pc.and_(topics_mask(logs, event, addresses), pc.equal(pc.binary_length(logs["data"]), n_data))
    return pc.fill_null(mask, False)


def select(logs: pa.Table, event: Event, addresses: list[bytes] | None) -> pa.Table:
    """The logs that are this event."""
    return logs.filter(event_mask(logs, event, addresses))


def fixed(col: pa.Array, width: int, what: str = "value") -> np.ndarray:
    """A binary column whose values all have `width` bytes, as an (n, width) uint8 view of its buffer."""
    if len(col) == 0:
        return np.zeros((0, width), np.uint8)
    offsets = _offsets(col)
    if not (np.diff(offsets) == width).all():
        raise ValueError(f"a {what} is not {width} bytes")
    if width == 0:                                    # an event with every parameter indexed: empty data
        return np.zeros((len(col), 0), np.uint8)
    return np.frombuffer(col.buffers()[2], dtype=np.uint8)[offsets[0]:offsets[-1]].reshape(-1, width)


def words(col: pa.ChunkedArray | pa.Array, start: int = 0) -> np.ndarray:
    """The 32 bytes at `start` of every value of a binary column, as an (n, 32) uint8 matrix."""
    arr = pc.binary_slice(col, start, start + 32)
    arr = arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr
    if len(arr) == 0:
        return np.zeros((0, 32), np.uint8)
    offsets = _offsets(arr)
    if not (np.diff(offsets) == 32).all():
        raise ValueError("a value is shorter than the word asked for")
    return np.frombuffer(arr.buffers()[2], dtype=np.uint8)[offsets[0]:offsets[-1]].reshape(-1, 32)


def one_chunk(col: pa.ChunkedArray | pa.Array) -> pa.Array:
    """The column as one array, copied only if it has several chunks (combine_chunks always copies)."""
    if not isinstance(col, pa.ChunkedArray):
        return col
    return col.chunk(0) if col.num_chunks == 1 else col.combine_chunks()


def _offsets(arr: pa.Array) -> np.ndarray:
    return np.frombuffer(arr.buffers()[1], dtype=np.int32)[arr.offset:arr.offset + len(arr) + 1]


# -- one event -------------------------------------------------------------------------------------

_META_INTS = ("block_number", "transaction_index", "log_index")


def _widths(event: Event) -> dict[str, int]:
    """Bytes of every binary column a fixed event reads."""
    n_indexed = sum(p.indexed for p in event.params)
    return {"transaction_hash": 32, "address": 20, "data": 32 * (len(event.params) - n_indexed),
            **{f"topic{i}": 32 for i in range(1, n_indexed + 1)}}


def decode(logs: pa.Table, event: Event, addresses: list[bytes] | None = None) -> pa.Table:
    """Decoded rows of `event` in chain order; Dune's decoded-table metadata names (evt_*, contract_address).
    One event's own scan of every log: decode_many splits the logs once for many events."""
    width = _widths(event)
    parts: dict[str, list[np.ndarray]] = {name: [] for name in (*_META_INTS, *width)}
    read = [*_META_INTS, "transaction_hash", "address", "data", "topic0", "topic1", "topic2", "topic3"]
    for batch in logs.select(read).to_batches():
        mine = batch.select(list(parts)).filter(event_mask(batch, event, addresses))    # copy only what is read
        for name in _META_INTS:
            parts[name].append(mine.column(name).to_numpy(zero_copy_only=False).astype(np.int64))
        for name, size in width.items():
            parts[name].append(fixed(mine.column(name), size, name.replace("_", " ")))
    got = {name: np.concatenate(out) if len(out) > 1 else out[0] if out else
           np.zeros((0, width[name]) if name in width else 0, np.uint8 if name in width else np.int64)
           for name, out in parts.items()}
    return _table(got, event)


def _table(got: dict[str, np.ndarray], event: Event) -> pa.Table:
    """The decoded table from the selected logs' columns (ints, and (rows, width) byte matrices)."""
    cols: dict[str, pa.Array] = {
        "evt_block_number": pa.array(got["block_number"]),
        "evt_tx_index": pa.array(got["transaction_index"]),
        "evt_index": pa.array(got["log_index"]),
        "evt_tx_hash": hex_array(got["transaction_hash"]),
        "contract_address": hex_array(got["address"]),
    }
    topic, offset = 1, 0
    for p in event.params:
        if p.indexed:
            w = got[f"topic{topic}"]
            topic += 1
        else:
            w = got["data"][:, offset:offset + 32]
            offset += 32
        for suffix, arr in convert(w, p.type).items():
            cols[p.name + suffix] = arr
    return pa.table(cols)


def metadata(t: pa.Table) -> dict[str, pa.Array]:
    """The five metadata columns of already selected logs (string-tailed events, note calls)."""
    return {"evt_block_number": pc.cast(t["block_number"], pa.int64()),
            "evt_tx_index": pc.cast(t["transaction_index"], pa.int64()),
            "evt_index": pc.cast(t["log_index"], pa.int64()),
            "evt_tx_hash": hex_array(words(t["transaction_hash"])),
            "contract_address": hex_array(np.ascontiguousarray(fixed(one_chunk(t["address"]), 20, "address")))}


# -- many events, one pass ---------------------------------------------------------------------------

def rows_by_topic0(col: pa.ChunkedArray | pa.Array, topic0s: list[bytes]) -> list[np.ndarray]:
    """Row numbers (ascending) of each of `topic0s`: one hash lookup per log and one stable sort
    (a radix sort on 16-bit codes)."""
    code = _numpy(pc.fill_null(pc.index_in(col, value_set=pa.array(topic0s, pa.binary())), -1), np.int32) + 1
    order = np.argsort(code.astype(np.int16 if len(topic0s) < 2**15 else np.int64), kind="stable")
    ends = np.cumsum(np.bincount(code, minlength=len(topic0s) + 1))      # code 0: no wanted topic0
    return [order[ends[g]:ends[g + 1]] for g in range(len(topic0s))]


def _numpy(col: pa.ChunkedArray | pa.Array, dtype=np.int64) -> np.ndarray:
    return np.asarray(col.to_numpy(zero_copy_only=False), dtype)
