"""ABI words (32-byte big-endian) into Arrow columns: hex text, exact decimal text, correctly rounded floats.

Where decoding spends its time is text: 1M logs make ~2M decimal numbers and ~4M hex strings. With numba
installed, two small compiled loops (hex, decimal digits) do that work in one pass each; without it,
numpy/arrow/binascii give the same bytes, slower (tests/perf/test_decode_text.py holds both equal to
Python's own printing). `_f64` floats equal float(int(word)).
"""

from __future__ import annotations

import binascii
import math

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_ONES = np.uint64(2**64 - 1)
_DEC38_HI = np.uint64(10**38 >> 64)      # a value whose high 64 of 128 bits is below this is < 10^38
SMALL_INTS = {f"uint{b}" for b in range(8, 65, 8)} | {"bool"}
SMALL_SIGNED = {f"int{b}" for b in range(8, 65, 8)}
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
