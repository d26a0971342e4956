"""Decoding of events whose last non-indexed parameter is an ABI `string` (Aave v3.0's EModeCategoryAdded).

backtest.ingest.decode reads fixed 32-byte words only. A trailing string changes two things: `data`
has a variable length, and one head word is an offset. Solidity's canonical encoding puts that string
right after the head: offset word = 32 * (head words), then a length word, then the bytes padded to 32.
Logs are selected by topic0, contract address, topic count, and that canonical shape (any other offset
or length is skipped, never mis-read); the head words go through the same vectorised conversions as
ordinary events, and the strings are gathered from the data buffer with one numpy index (no per-log
Python, except to replace invalid UTF-8, which a Solidity `string` may carry).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from backtest.ingest.abi_values import convert
from backtest.ingest.decode import _offsets, metadata, one_chunk, topics_mask, words
from backtest.ingest.events import Event

DYNAMIC = {"string"}


def is_dynamic(event: Event) -> bool:
    return any(p.type in DYNAMIC for p in event.params)


def _layout(event: Event) -> int:
    """Head words of the data; the one string must be the last non-indexed parameter."""
    data = [p for p in event.params if not p.indexed]
    strings = [i for i, p in enumerate(data) if p.type in DYNAMIC]
    if strings != [len(data) - 1]:
        raise ValueError(f"{event.signature}: only one trailing string parameter is supported")
    return len(data)


def _uint(w: np.ndarray) -> np.ndarray:
    """Words as int64, -1 where the value does not fit 62 bits (then no length or offset matches)."""
    small = (w[:, :24] == 0).all(axis=1) & (w[:, 24] < 64)
    v = np.ascontiguousarray(w[:, 24:]).view(">u8").ravel().astype(np.int64)
    return np.where(small, v, -1)


def select(logs: pa.Table, event: Event, addresses: list[bytes] | None) -> pa.Table:
    head = _layout(event)
    size = pc.binary_length(logs["data"])
    mask = pc.and_(topics_mask(logs, event, addresses), pc.and_(pc.greater_equal(size, 32 * head + 32), pc.equal(pc.bit_wise_and(size, 31), 0)))
    t = logs.filter(pc.fill_null(mask, False))
    if t.num_rows == 0:
        return t
    offset = _uint(words(t["data"], 32 * (head - 1)))
    length = _uint(words(t["data"], 32 * head))
    padded = (length + 31) // 32 * 32
    size = pc.binary_length(t["data"]).to_numpy(zero_copy_only=False).astype(np.int64)
    canonical = (offset == 32 * head) & (length >= 0) & (size == 32 * head + 32 + padded)
    return t.filter(pa.array(canonical))


def strings(data: pa.ChunkedArray | pa.Array, start: int) -> pa.Array:
    """The string at byte `start` (length word, then bytes) of every value of a binary column."""
    arr = one_chunk(data)
    n = len(arr)
    if n == 0:
        return pa.array([], pa.string())
    length = _uint(words(arr, start))
    offsets = _offsets(arr).astype(np.int64)
    buf = np.frombuffer(arr.buffers()[2], dtype=np.uint8)
    ends = np.concatenate([[0], np.cumsum(length)])
    first = offsets[:-1] + start + 32
    idx = np.repeat(first - ends[:-1], length) + np.arange(ends[-1])
    raw = pa.Array.from_buffers(pa.binary(), n, [None, pa.py_buffer(ends.astype(np.int32)),
                                                 pa.py_buffer(buf[idx].copy())])
    try:
        return raw.cast(pa.string())
    except pa.ArrowInvalid:           # not UTF-8: keep what decodes, as web3 would refuse the log
        return pa.array([b.decode("utf-8", "replace") for b in raw.to_pylist()], pa.string())


def decode_dynamic(logs: pa.Table, event: Event, addresses: list[bytes] | None = None) -> pa.Table:
    """Decoded rows of `event` in chain order, columns as backtest.ingest.decode.decode gives them."""
    head = _layout(event)
    t = select(logs, event, addresses)
    cols = metadata(t)
    topic, k = 1, 0
    for p in event.params:
        if p.indexed:
            w = words(t[f"topic{topic}"])
            topic += 1
        elif p.type in DYNAMIC:
            cols[p.name] = strings(t["data"], 32 * head)
            continue
        else:
            w = words(t["data"], 32 * k)
            k += 1
        for suffix, arr in convert(w, p.type).items():
            cols[p.name + suffix] = arr
    return pa.table(cols)
