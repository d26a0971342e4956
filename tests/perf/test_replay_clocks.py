"""The replay loop's per-round clocks (replay.clocks: each row's "liquidatable since") and first rounds
(replay.first_rounds) compiled give the numpy path's arrays bit for bit, round after round and step after
step, as the loop calls them."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from backtest import compiled
from backtest.engine import replay

pytestmark = pytest.mark.skipif(replay._clocks is None, reason="numba not installed")


def _run(seed: int, python: bool) -> list:
    """A run's since, first_round, each round's since[below], rounds and the rows new below, as the loop
    drives them: rows below 1 change or stay from round to round, the clocks keep a row that stays."""
    rng = np.random.default_rng(seed)
    n = 60
    since, first_round = np.full(n, np.nan), np.full(n, -1, dtype=np.int64)
    wet, got, now, since_below = np.zeros(0, dtype=np.int64), [], 0.0, np.zeros(0)
    with compiled.python_path(python):
        for step in range(4):
            seen, rounds = [], None
            below = wet
            for rnd in range(int(rng.integers(1, 6))):
                now += float(rng.choice([12.0, 0.1, 1e9 / 7]))
                if rng.random() < 0.7:                       # the rows below 1 change (else the same array)
                    size = int(rng.integers(0, 20))
                    below = rng.permutation(rng.choice(n, size, replace=False)).astype(np.int64)
                if below is not wet:
                    since_below = replay.clocks(since, below, wet, now)
                    wet, rounds = below, None
                    got.append(since_below.tobytes())
                if rounds is None:
                    rounds, new = replay.first_rounds(first_round, below, rnd, not seen)
                    if len(new):
                        seen.append(new)
                    got += [rounds.tobytes(), sorted(new.tolist()), str(rounds.dtype)]
                got.append(((now - since_below) / 12.0).tobytes())
            for rows in seen:
                first_round[rows] = -1
            got += [since.tobytes(), first_round.tobytes()]
    return got


@settings(max_examples=100, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_the_compiled_clocks_and_first_rounds_are_the_numpy_ones(seed):
    compiled_run, numpy_run = _run(seed, False), _run(seed, True)
    assert compiled_run == numpy_run
    assert any(len(x) for x in compiled_run if isinstance(x, list))       # some rows went below for the first time
