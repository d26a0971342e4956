"""The decoder's text conversions: the compiled loops (numba) and the fallbacks give the same bytes
as Python's own int/hex printing, and a whole decode is the same table either way."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from backtest.ingest import abi_values as V
from backtest.ingest import decode as D
from backtest.bench.decode import events, synthetic_logs


def word(value: int) -> np.ndarray:
    """One 32-byte big-endian two's-complement word."""
    return np.frombuffer((value % 2**256).to_bytes(32, "big"), np.uint8)


def words_of(values: list[int]) -> np.ndarray:
    return np.stack([word(v) for v in values])


@pytest.fixture(params=["numba", "fallback"])
def path(request, monkeypatch):
    """Run the test through the compiled loops, then again with numba hidden."""
    if request.param == "numba":
        pytest.importorskip("numba")
        assert "decimal" in V.kernels()
    else:
        monkeypatch.setattr(V, "_KERNELS", {"ready": True})
    return request.param


# Hand-picked: group edges of the base-10^9 split (10^9 - 1, 10^9, 10^18, 10^27 + 5 keeps its inner
# zeros), the 2^64 edge of the plain-division path, the 10^38 edge of arrow's decimal128 path, and
# the ends of the 256-bit range.
UNSIGNED = [0, 1, 9, 10, 99, 100, 10**9 - 1, 10**9, 10**9 + 1, 10**18, 10**27 + 5, 2**64 - 1, 2**64,
            10**38 - 1, 10**38, 2**128, 2**255, 2**256 - 1]
SIGNED = [0, -1, 1, -10**9, -(10**9 + 7), -2**63, -2**64, -(10**38 - 1), -10**38,
          -2**127, -2**127 - 12345, -2**128, -2**128 + 1, 2**255 - 1, -2**255]


def test_unsigned_words_print_as_python_ints(path):
    assert V.decimal_array(words_of(UNSIGNED)).to_pylist() == [str(v) for v in UNSIGNED]


def test_signed_words_print_as_python_ints(path):
    # -2**127 - 12345 lies in [-2^128, -2^127): its low 128 bits read as a POSITIVE int128, so a path
    # that prints the low 16 bytes as decimal128 must not be taken (the old fallback printed
    # 2**128 - 2**127 - 12345 here).
    assert V.decimal_array(words_of(SIGNED), signed=True).to_pylist() == [str(v) for v in SIGNED]


def test_random_words_of_every_width_print_as_python_ints(path):
    rng = np.random.default_rng(3)
    w = np.zeros((3_000, 32), np.uint8)
    for i in range(len(w)):                            # 1..32 significant bytes, positive and negative
        k = i % 32 + 1
        w[i, 32 - k:] = rng.integers(0, 256, k, dtype=np.uint8)
        if i % 3 == 0:
            w[i, :32 - k] = 255
    for signed in (False, True):
        want = [str(v) for v in V.big_ints(w, signed)]
        assert V.decimal_array(w, signed).to_pylist() == want


# Rounding to 53 bits: 2^53 + 1 is a tie and goes to even (2^53); shifted up by 200 bits with a 1 far
# below, the same tie is broken upwards by that bit (sticky); 2^256 - 1 rounds up to 2^256.
TIES = [2**53 + 1, 2**53 + 3, (2**53 + 1) << 200, ((2**53 + 1) << 200) + 1, ((2**53 + 1) << 150) + 2**20,
        2**64 - 1, 2**256 - 1, 10**77, 2**63 + 1]


def test_floats_are_the_correctly_rounded_values(path):
    assert float((2**53 + 1) << 200) == 2.0**253 and float(((2**53 + 1) << 200) + 1) == 2.0**253 + 2.0**201
    _, floats = V.integers(words_of(UNSIGNED + TIES))
    assert floats.tolist() == [float(v) for v in UNSIGNED + TIES]
    _, floats = V.integers(words_of(SIGNED + [-v for v in TIES if v < 2**255]), signed=True)
    assert floats.tolist() == [float(v) for v in SIGNED + [-v for v in TIES if v < 2**255]]


def test_random_floats_equal_python_float_of_the_int(path):
    rng = np.random.default_rng(5)
    w = rng.integers(0, 256, (4_000, 32), dtype=np.uint8)
    w[::2, :20] = 0                                    # half of them below 2^96
    for signed in (False, True):
        assert V.integers(w, signed)[1].tolist() == [float(v) for v in V.big_ints(w, signed)]


def test_hex_of_rows_and_of_a_column_slice(path):
    rng = np.random.default_rng(4)
    m = rng.integers(0, 256, (500, 32), dtype=np.uint8)
    assert V.hex_array(m).to_pylist() == ["0x" + bytes(r).hex() for r in m]
    # an address is the last 20 bytes of a word: a strided view, not a copy
    assert V.hex_array(m[:, 12:]).to_pylist() == ["0x" + bytes(r[12:]).hex() for r in m]
    assert V.hex_array(np.zeros((0, 20), np.uint8)).to_pylist() == []


def test_decode_is_the_same_table_with_and_without_numba(monkeypatch):
    pytest.importorskip("numba")
    logs = synthetic_logs(7_000, seed=1)
    fast = [D.decode(logs, e) for e in events()]
    monkeypatch.setattr(V, "_KERNELS", {"ready": True})
    slow = [D.decode(logs, e) for e in events()]
    for a, b in zip(fast, slow):
        assert a.num_rows == 1_000 and a.equals(b)


def test_decode_of_a_table_in_many_chunks_equals_one_chunk():
    logs = synthetic_logs(3_500, seed=2)
    chunked = pa.concat_tables([logs.slice(i, 700) for i in range(0, 3_500, 700)])
    assert chunked["data"].num_chunks == 5
    for e in events():
        one, many = D.decode(logs, e), D.decode(chunked, e)
        assert one.num_rows == 500 and one.equals(many)


def test_empty_logs_decode_to_the_typed_empty_table():
    logs = synthetic_logs(70, seed=0).slice(0, 0)
    out = D.decode(logs, events()[6])                      # Uniswap v3 Swap: int256, uint160, int24
    assert out.num_rows == 0
    assert out.schema.field("amount0").type == pa.string()
    assert out.schema.field("amount0_f64").type == pa.float64()
    assert out.schema.field("tick").type == pa.int64()


def test_more_rows_than_one_arrow_array_holds_come_back_in_chunks(path, monkeypatch):
    # int32 offsets cap one string array near 2 GB of text: past _BLOCK rows the text is chunked
    monkeypatch.setattr(V, "_BLOCK", 4)
    values = [0, 1, 10**18, 2**64, 7, -1 % 2**256, 12345, 10**30, 3, 99]
    text, floats = V.integers(words_of(values))
    assert text.num_chunks == 3 and text.to_pylist() == [str(v) for v in values]
    assert floats.tolist() == [float(v) for v in values]
    hexes = V.hex_array(words_of(values)[:, 12:])
    assert hexes.num_chunks == 3 and hexes.to_pylist() == ["0x" + (v % 2**160).to_bytes(20, "big").hex() for v in values]
