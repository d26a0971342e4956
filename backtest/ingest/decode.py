"""Vectorised event decoding: every log of one event is a row of fixed 32-byte words.

Static ABI types only (all the events we support): each parameter is one word, taken from a topic
(indexed) or from `data` at 32·k (not indexed). The logs of the event are found by a mask (topic0,
contract address, shape), arrow filters them, their bytes are viewed as (rows, width) uint8 matrices, and every
conversion works on a whole column of words: addresses and bytes32 as '0x' hex text in one ASCII
buffer, small integers through a big-endian int64 view of the last 8 bytes, uint256/int256 as exact
decimal text plus a float64 copy (`_f64`, correctly rounded: equal to float(int(word))). Logs of
the right topic0 but the wrong shape (e.g. an ERC-721 Transfer next to an ERC-20 Transfer) are
skipped, never mis-decoded. `decode` scans every log for one event; `decode_many` (what ingest uses)
groups the logs by topic0 once, and each event then reads only its own topic0's rows.

Where the time goes is text: 1M logs make ~2M decimal numbers and ~4M hex strings. With numba
installed, two small compiled loops (hex, decimal digits) do that work in one pass each; without
it, numpy/arrow/binascii give the same bytes, slower (tests/perf/test_decode_text.py holds both
equal to Python's own printing).
"""

from __future__ import annotations

import binascii
import math

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from backtest.ingest.events import Event

_ONES = np.uint64(2**64 - 1)
_DEC38_HI = np.uint64(10**38 >> 64)      # a value whose high 64 of 128 bits is below this is < 10^38
SMALL_INTS = {f"uint{b}" for b in range(8, 65, 8)} | {"bool"}
SMALL_SIGNED = {f"int{b}" for b in range(8, 65, 8)}
META = ("evt_block_number", "evt_tx_index", "evt_index", "evt_tx_hash", "contract_address")
_HEX = np.frombuffer("".join(f"{i:02x}" for i in range(256)).encode(), np.uint8).copy()      # "00" .. "ff"
_PAIRS = np.frombuffer("".join(f"{i:02d}" for i in range(100)).encode(), np.uint8).copy()   # "00" .. "99"


# -- the compiled loops (plain Python here; numba compiles them on first use) ------------------------

def _hex_rows(m, table):
    """(n, k) bytes -> n strings '0x' + 2k hex digits, back to back."""
    n, k = m.shape
    width = 2 + 2 * k
    out = np.empty(n * width, np.uint8)
    for i in range(n):
        b = i * width
        out[b], out[b + 1] = 48, 120
        for j in range(k):
            v = 2 * np.int64(m[i, j])
            out[b + 2 + 2 * j], out[b + 3 + 2 * j] = table[v], table[v + 1]
    return out


def _decimal_rows(w, signed, pairs):
    """Decimal text of (n, 32) big-endian words into one buffer, with arrow string offsets, and their
    float64 values (to_f64's rule).
    The word becomes base-10^9 groups: a value under 2^64 by plain division, a wider one by schoolbook
    long division of its 32-bit limbs (remainder · 2^32 + limb < 2^62 fits uint64). Groups are printed
    two digits at a time from `pairs`: the leading one without leading zeros, the rest nine digits each.
    Negatives (signed, top bit set): '-' and the magnitude ~x + 1."""
    mask32, billion, ten, hundred, one, two = (np.uint64(2**32 - 1), np.uint64(10**9), np.uint64(10),
                                               np.uint64(100), np.uint64(1), np.uint64(2))
    n = w.shape[0]
    text = np.empty(n * 79, np.uint8)                 # 2^256 has 78 digits, plus a sign
    offsets = np.empty(n + 1, np.int32)
    offsets[0] = 0
    floats = np.empty(n, np.float64)
    limb = np.empty(8, np.uint64)
    groups = np.empty(9, np.uint64)
    pos = 0
    for i in range(n):
        neg = signed and w[i, 0] >= 128
        flip = mask32 if neg else np.uint64(0)
        for j in range(8):
            v = (np.uint64(w[i, 4 * j]) << np.uint64(24)) | (np.uint64(w[i, 4 * j + 1]) << np.uint64(16)) | \
                (np.uint64(w[i, 4 * j + 2]) << np.uint64(8)) | np.uint64(w[i, 4 * j + 3])
            limb[j] = v ^ flip
        if neg:
            carry = one
            for j in range(7, -1, -1):
                v = limb[j] + carry
                limb[j] = v & mask32
                carry = v >> np.uint64(32)
        top = 0
        while top < 8 and limb[top] == 0:
            top += 1
        if top < 8:                                   # float64, as in to_f64: 64 bits + sticky, scaled
            a = limb[top]
            b = limb[top + 1] if top < 7 else np.uint64(0)
            c = limb[top + 2] if top < 6 else np.uint64(0)
            lead = np.uint64(0)
            while (a << lead) & np.uint64(0x80000000) == 0:
                lead += one
            window = (((a << np.uint64(32)) | b) << lead) | (c >> (np.uint64(32) - lead))
            sticky = ((c << lead) & mask32) != 0
            for j in range(top + 3, 8):
                sticky = sticky or limb[j] != 0
            if sticky:
                window |= one
            f = math.ldexp(np.float64(window), 32 * (7 - top) - 32 - np.int64(lead))
            floats[i] = -f if neg else f
        else:
            floats[i] = 0.0
        top = min(top, 6)
        ng = 0
        if top == 6:                                  # under 2^64
            v = (limb[6] << np.uint64(32)) | limb[7]
            while True:
                q = v // billion
                groups[ng] = v - q * billion
                ng += 1
                v = q
                if v == 0:
                    break
        else:
            while top < 8:
                r = np.uint64(0)
                for j in range(top, 8):
                    cur = (r << np.uint64(32)) | limb[j]
                    q = cur // billion
                    r = cur - q * billion
                    limb[j] = q
                groups[ng] = r
                ng += 1
                while top < 8 and limb[top] == 0:
                    top += 1
        if neg:
            text[pos] = 45
            pos += 1
        g = groups[ng - 1]                            # the leading group
        nd, t = 1, g
        while t >= ten:
            t //= ten
            nd += 1
        e = pos + nd
        while g >= hundred:
            q = g // hundred
            d = (g - q * hundred) * two
            text[e - 1], text[e - 2] = pairs[d + one], pairs[d]
            e -= 2
            g = q
        if g >= ten:
            text[e - 1], text[e - 2] = pairs[g * two + one], pairs[g * two]
        else:
            text[e - 1] = np.uint8(48 + g)
        pos += nd
        for k in range(ng - 2, -1, -1):               # whole groups: 1 + 2·2 + 2·2 digits
            g = groups[k]
            a = g // np.uint64(10000)
            b = g - a * np.uint64(10000)
            a1 = a // hundred
            a2 = (a - a1 * hundred) * two
            a0 = a1 // hundred
            a1 = (a1 - a0 * hundred) * two
            b1 = b // hundred
            b2 = (b - b1 * hundred) * two
            b1 = b1 * two
            text[pos] = np.uint8(48 + a0)
            text[pos + 1], text[pos + 2] = pairs[a1], pairs[a1 + one]
            text[pos + 3], text[pos + 4] = pairs[a2], pairs[a2 + one]
            text[pos + 5], text[pos + 6] = pairs[b1], pairs[b1 + one]
            text[pos + 7], text[pos + 8] = pairs[b2], pairs[b2 + one]
            pos += 9
        offsets[i + 1] = pos
    return offsets, text[:pos].copy(), floats


_KERNELS: dict = {}


def kernels() -> dict:
    """The compiled loops by name (numba, cached on disk); without numba, neither name is there."""
    if "ready" not in _KERNELS:
        try:
            import numba
        except ImportError:
            pass
        else:
            # one signature each (any layout, read-only views of arrow buffers accepted): compiled once
            t = numba.types
            rows, table = t.Array(t.uint8, 2, "A", readonly=True), t.Array(t.uint8, 1, "C", readonly=True)
            text = t.Array(t.uint8, 1, "C")
            jit = lambda sig: numba.njit(sig, cache=True, nogil=True)    # noqa: E731
            _KERNELS.update(hex=jit(text(rows, table))(_hex_rows),
                            decimal=jit(t.Tuple((t.Array(t.int32, 1, "C"), text, t.Array(t.float64, 1, "C")))(
                                rows, t.boolean, table))(
                                _decimal_rows))
        _KERNELS["ready"] = True
    return _KERNELS


# -- text of words -----------------------------------------------------------------------------------

_BLOCK = 1 << 24          # rows per arrow array: 79 bytes of text each stays under int32 offsets


def hex_array(m: np.ndarray) -> pa.Array | pa.ChunkedArray:
    """(n, k) uint8 -> arrow strings '0x' + 2k hex digits, built as one ASCII buffer (no per-row work)."""
    if len(m) > _BLOCK:
        return pa.chunked_array([hex_array(m[i:i + _BLOCK]) for i in range(0, len(m), _BLOCK)], pa.string())
    n, k = m.shape
    if "hex" in kernels():
        out = kernels()["hex"](m, _HEX)
    else:
        out = np.empty((n, 2 + 2 * k), np.uint8)
        out[:, 0], out[:, 1] = ord("0"), ord("x")
        out[:, 2:] = np.frombuffer(binascii.hexlify(np.ascontiguousarray(m)), np.uint8).reshape(n, 2 * k)
    offsets = np.arange(n + 1, dtype=np.int32) * (2 + 2 * k)
    return pa.Array.from_buffers(pa.string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(out)])


def decimal_array(w: np.ndarray, signed: bool = False) -> pa.Array | pa.ChunkedArray:
    """Exact decimal text of 256-bit words, two's complement if signed."""
    return integers(w, signed)[0]


def integers(w: np.ndarray, signed: bool = False) -> tuple[pa.Array | pa.ChunkedArray, np.ndarray]:
    """Decimal text and float64 (to_f64) of 256-bit words: one compiled pass, or arrow and numpy."""
    if len(w) > _BLOCK:
        parts = [integers(w[i:i + _BLOCK], signed) for i in range(0, len(w), _BLOCK)]
        return pa.chunked_array([t for t, _ in parts], pa.string()), np.concatenate([f for _, f in parts])
    if "decimal" not in kernels():
        return _decimal_arrow(w, signed), to_f64(w, signed)
    offsets, text, floats = kernels()["decimal"](w, signed, _PAIRS)
    return pa.Array.from_buffers(pa.string(), len(w), [None, pa.py_buffer(offsets), pa.py_buffer(text)]), floats


def _decimal_arrow(w: np.ndarray, signed: bool = False) -> pa.Array:
    """decimal_array without numba: values under 10^38 in magnitude become arrow decimal128 straight
    from their low 16 bytes (little-endian), printed by arrow; the rest take the Python-integer path."""
    n = len(w)
    x = limbs(w)
    top, hi = x[:, :2], x[:, 2]
    if signed:
        hi_s = hi.view(np.int64)
        small = ((top == 0).all(axis=1) & (hi < _DEC38_HI)) | \
                ((top == _ONES).all(axis=1) & (hi_s < 0) & (hi_s > -np.int64(_DEC38_HI)))
    else:
        small = (top == 0).all(axis=1) & (hi < _DEC38_HI)
    low_le = np.ascontiguousarray(w[:, 16:][:, ::-1])
    fast = pa.Array.from_buffers(pa.decimal128(38, 0), n, [None, pa.py_buffer(low_le)]).cast(pa.string())
    if small.all():
        return fast
    slow = np.full(n, None, dtype=object)
    slow[~small] = big_ints(w[~small], signed).astype(str)
    return pc.if_else(pa.array(small), fast, pa.array(slow, pa.string()))


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
    """The words as float64, correctly rounded (= float(int(word))): the 64 bits below the leading one,
    with every lower bit OR-ed into the last (sticky), converted (round to nearest even), then scaled."""
    neg = (w[:, 0] >= 0x80) if signed else np.zeros(len(w), bool)
    x = magnitudes(w, neg)
    n = len(x)
    top = np.minimum((x == 0).argmin(axis=1), 3)      # first non-zero limb (3 if the value is 0 or < 2^64)
    hi = x[np.arange(n), top]
    lo = np.where(top < 3, x[np.arange(n), np.minimum(top + 1, 3)], 0)
    below = np.zeros(n, bool)
    for k in range(2, 4):                             # any non-zero limb past the two read
        below |= (top + k <= 3) & (x[np.arange(n), np.minimum(top + k, 3)] != 0)
    e = np.minimum(np.frexp(hi.astype(np.float64))[1] - 1, 63)         # floor(log2 hi), maybe one too high
    e = np.where((e > 0) & ((hi >> np.maximum(e, 0).astype(np.uint64)) == 0), e - 1, e)
    shift = (63 - np.maximum(e, 0)).astype(np.uint64)                    # leading zeros of hi
    window = (hi << shift) | np.where(shift > 0, lo >> (np.uint64(64) - np.maximum(shift, 1)), 0)
    sticky = below | (np.where(shift > 0, lo << shift, lo) != 0)
    window |= sticky.astype(np.uint64)
    out = np.ldexp(window.astype(np.float64), (64 * (3 - top) - shift.astype(np.int64)).astype(np.int32))
    return np.where(neg, -out, out)


def magnitudes(w: np.ndarray, neg: np.ndarray) -> np.ndarray:
    """(n, 4) uint64 limbs of |word|: the word itself, or ~word + 1 where `neg`."""
    x = limbs(w ^ (neg.astype(np.uint8) * np.uint8(255))[:, None])
    carry = neg.astype(np.uint64)
    for k in range(3, -1, -1):
        x[:, k] += carry
        carry = carry & (x[:, k] == 0)
    return x


def convert(w: np.ndarray, typ: str) -> dict[str, pa.Array]:
    """One parameter's column(s). Integers wider than 64 bits are decimal text plus a `_f64` float."""
    if typ == "address":
        return {"": hex_array(w[:, 12:])}
    if typ == "bytes32":
        return {"": hex_array(w)}
    if typ in SMALL_INTS:
        v = np.ascontiguousarray(w[:, 24:]).view(">u8").ravel().astype(np.int64)
        return {"": pa.array(v.astype(bool) if typ == "bool" else v)}
    if typ in SMALL_SIGNED:
        return {"": pa.array(np.ascontiguousarray(w[:, 24:]).view(">i8").ravel().astype(np.int64))}
    if typ.startswith(("uint", "int")):
        signed = typ.startswith("int")
        text, floats = integers(w, signed)
        return {"": text, "_f64": pa.array(floats)}
    raise ValueError(f"unsupported ABI type {typ} (static types only)")


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


def _shape(n_topics: int, n_data: int) -> int:
    """One integer per (topics 1-3 present, data length): 8 · length + bit i-1 for topic i."""
    return 8 * n_data + (1 << n_topics) - 1


def decode_many(logs: pa.Table, wanted: list[tuple[Event, list[bytes] | None]]) -> list[pa.Table]:
    """Decoded tables of many (event or note, addresses), each equal to its own decoder's table over all
    `logs`. The logs are grouped by topic0 once; an event's other rules (address, topics present, data
    length) then read only its topic0's rows, from per-log codes computed once."""
    from backtest.ingest.dynamic import decoder_of         # dynamic and lognote import this module
    topic0s = list(dict.fromkeys(ev.topic0 for ev, _ in wanted))
    groups = dict(zip(topic0s, rows_by_topic0(logs["topic0"], topic0s)))
    known = list(dict.fromkeys(a for _, addrs in wanted for a in addrs or ()))
    source = _numpy(pc.fill_null(pc.index_in(logs["address"], value_set=pa.array(known, pa.binary())), -1),
                    np.int32) + 1 if known else None       # 0: an address none of them has
    shape = 8 * _numpy(pc.fill_null(pc.binary_length(logs["data"]), -1), np.int32)    # null data: no length
    for i in range(1, 4):
        shape += _numpy(pc.is_valid(logs[f"topic{i}"]), np.int32) << (i - 1)
    out = []
    for ev, addrs in wanted:
        rows = groups[ev.topic0]
        decoder = decoder_of(ev)
        if decoder is not decode:                           # rare events: their own rules on their rows
            out.append(decoder(logs.take(rows), ev, addrs))
            continue
        width = _widths(ev)
        keep = shape[rows] == _shape(sum(p.indexed for p in ev.params), width["data"])
        if addrs is not None:
            allowed = np.zeros(len(known) + 1, bool)
            allowed[[known.index(a) + 1 for a in addrs]] = True
            keep &= allowed[source[rows]] if known else False
        mine = logs.select([*_META_INTS, *width]).take(rows[keep])
        got = {name: _numpy(mine[name]) for name in _META_INTS}
        for name, n in width.items():
            got[name] = fixed(one_chunk(mine[name]), n, name.replace("_", " "))
        out.append(_table(got, ev))
    return out
