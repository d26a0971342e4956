"""Vectorised event decoding: every log of one event is a row of fixed 32-byte words.

Static ABI types only (all the events we support): each parameter is one word, taken from a topic
(indexed) or from `data` at 32·k (not indexed). Words become a (rows, 32) uint8 matrix, and every
conversion works on the whole column: addresses and bytes32 through a hex lookup table into one ASCII
buffer, small integers through a big-endian int64 view of the last 8 bytes, uint256/int256 as arrow
decimal128 built from the low 16 bytes (values under 10^38) or else four uint64 limbs joined exactly by
numpy object arithmetic, plus a float64 copy of the limbs for `_f64`-style use. Logs of the right topic0 but the wrong shape (e.g. an ERC-721 Transfer
next to an ERC-20 Transfer) are skipped, never mis-decoded.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from backtest.ingest.events import Event

_HEX_ASCII = np.frombuffer("".join(f"{i:02x}" for i in range(256)).encode(), np.uint8).reshape(256, 2)
_ONES = np.uint64(2**64 - 1)
_DEC38_HI = np.uint64(10**38 >> 64)      # a value whose high 64 of 128 bits is below this is < 10^38
_LIMB = np.array([2.0**192, 2.0**128, 2.0**64, 1.0])
SMALL_INTS = {f"uint{b}" for b in range(8, 65, 8)} | {"bool"}
SMALL_SIGNED = {f"int{b}" for b in range(8, 65, 8)}
META = ("evt_block_number", "evt_tx_index", "evt_index", "evt_tx_hash", "contract_address")


def hex_array(m: np.ndarray) -> pa.Array:
    """(n, k) uint8 -> arrow strings '0x' + 2k hex digits, built as one ASCII buffer (no per-row work)."""
    n, k = m.shape
    width = 2 + 2 * k
    out = np.empty((n, width), np.uint8)
    out[:, 0], out[:, 1] = ord("0"), ord("x")
    out[:, 2:] = _HEX_ASCII[m].reshape(n, 2 * k)
    offsets = np.arange(n + 1, dtype=np.int32) * width
    return pa.Array.from_buffers(pa.string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(out)])


def decimal_array(w: np.ndarray, signed: bool = False) -> pa.Array:
    """Exact decimal text of 256-bit words. Values under 10^38 in magnitude (every realistic amount,
    price and liquidity) become arrow decimal128 straight from their low 16 bytes (little-endian) and are
    printed by arrow; only the rest take the exact Python-integer path."""
    n = len(w)
    x = limbs(w)
    top, hi = x[:, :2], x[:, 2]
    if signed:
        small = ((top == 0).all(axis=1) & (hi < _DEC38_HI)) | \
                ((top == _ONES).all(axis=1) & (hi.view(np.int64) > -np.int64(_DEC38_HI)))
    else:
        small = (top == 0).all(axis=1) & (hi < _DEC38_HI)
    low_le = np.ascontiguousarray(w[:, 16:][:, ::-1])
    fast = pa.Array.from_buffers(pa.decimal128(38, 0), n, [None, pa.py_buffer(low_le)]).cast(pa.string())
    if small.all():
        return fast
    slow = np.full(n, None, dtype=object)
    slow[~small] = big_ints(w[~small], signed).astype(str)
    return pc.if_else(pa.array(small), fast, pa.array(slow, pa.string()))


def words(col: pa.ChunkedArray | pa.Array, start: int = 0) -> np.ndarray:
    """The 32 bytes at `start` of every value of a binary column, as an (n, 32) uint8 matrix."""
    arr = pc.binary_slice(col, start, start + 32)
    arr = arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr
    if len(arr) == 0:
        return np.zeros((0, 32), np.uint8)
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int32)[arr.offset:arr.offset + len(arr) + 1]
    if not (np.diff(offsets) == 32).all():
        raise ValueError("a value is shorter than the word asked for")
    return np.frombuffer(arr.buffers()[2], dtype=np.uint8)[offsets[0]:offsets[-1]].reshape(-1, 32)


def limbs(w: np.ndarray) -> np.ndarray:
    """(n, 32) uint8 -> (n, 4) big-endian uint64 limbs."""
    return np.ascontiguousarray(w).view(">u8").astype(np.uint64)


def big_ints(w: np.ndarray, signed: bool = False) -> np.ndarray:
    """Exact 256-bit integers (object array of Python ints), two's complement if signed."""
    x = limbs(w).astype(object)
    v = (x[:, 0] << 192) | (x[:, 1] << 128) | (x[:, 2] << 64) | x[:, 3]
    if signed and len(v):
        neg = w[:, 0] >= 0x80
        v[neg] = v[neg] - (1 << 256)
    return v


def to_f64(w: np.ndarray, signed: bool = False) -> np.ndarray:
    if not signed:
        return limbs(w).astype(np.float64) @ _LIMB
    neg = w[:, 0] >= 0x80
    mag = np.where(neg[:, None], 255 - w, w)          # -x - 1 for negatives, then fix the 1 below
    out = limbs(mag).astype(np.float64) @ _LIMB
    return np.where(neg, -out - 1.0, out)


def convert(w: np.ndarray, typ: str) -> dict[str, pa.Array]:
    """One parameter's column(s). Integers wider than 64 bits are decimal text plus a `_f64` float."""
    if typ == "address":
        return {"": hex_array(np.ascontiguousarray(w[:, 12:]))}
    if typ == "bytes32":
        return {"": hex_array(w)}
    if typ in SMALL_INTS:
        v = np.ascontiguousarray(w[:, 24:]).view(">u8").ravel().astype(np.int64)
        return {"": pa.array(v.astype(bool) if typ == "bool" else v)}
    if typ in SMALL_SIGNED:
        return {"": pa.array(np.ascontiguousarray(w[:, 24:]).view(">i8").ravel().astype(np.int64))}
    if typ.startswith(("uint", "int")):
        signed = typ.startswith("int")
        return {"": decimal_array(w, signed), "_f64": pa.array(to_f64(w, signed))}
    raise ValueError(f"unsupported ABI type {typ} (static types only)")


def select(logs: pa.Table, event: Event, addresses: list[bytes] | None) -> pa.Table:
    """The logs that are this event: topic0, contract address, and the event's shape."""
    n_indexed = sum(p.indexed for p in event.params)
    n_data = 32 * (len(event.params) - n_indexed)
    mask = pc.equal(logs["topic0"], pa.scalar(event.topic0, pa.binary()))
    if addresses is not None:
        mask = pc.and_(mask, pc.is_in(logs["address"], pa.array(addresses, pa.binary())))
    for i in range(1, 4):
        present = pc.is_valid(logs[f"topic{i}"])
        mask = pc.and_(mask, present if i <= n_indexed else pc.invert(present))
    mask = pc.and_(mask, pc.equal(pc.binary_length(logs["data"]), n_data))
    return logs.filter(pc.fill_null(mask, False))


def decode(logs: pa.Table, event: Event, addresses: list[bytes] | None = None) -> pa.Table:
    """Decoded rows of `event` in chain order; Dune's decoded-table metadata names (evt_*, contract_address)."""
    t = select(logs, event, addresses)
    cols: dict[str, pa.Array] = {
        "evt_block_number": pc.cast(t["block_number"], pa.int64()),
        "evt_tx_index": pc.cast(t["transaction_index"], pa.int64()),
        "evt_index": pc.cast(t["log_index"], pa.int64()),
        "evt_tx_hash": hex_array(words(t["transaction_hash"])),
        "contract_address": hex_array(_pad20(t["address"])),
    }
    topic, offset = 1, 0
    for p in event.params:
        if p.indexed:
            w = words(t[f"topic{topic}"])
            topic += 1
        else:
            w = words(t["data"], offset)
            offset += 32
        for suffix, arr in convert(w, p.type).items():
            cols[p.name + suffix] = arr
    return pa.table(cols)


def _pad20(col) -> np.ndarray:
    """Addresses are 20 bytes; give them 12 zero bytes in front so `words` can read them, then drop them."""
    arr = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    if len(arr) == 0:
        return np.zeros((0, 20), np.uint8)
    offsets = np.frombuffer(arr.buffers()[1], dtype=np.int32)[arr.offset:arr.offset + len(arr) + 1]
    if not (np.diff(offsets) == 20).all():
        raise ValueError("an address is not 20 bytes")
    return np.frombuffer(arr.buffers()[2], dtype=np.uint8)[offsets[0]:offsets[-1]].reshape(-1, 20)
