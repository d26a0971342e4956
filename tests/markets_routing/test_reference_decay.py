"""ReferenceMarket.decay keeps its factors per block length (a path's blocks come in ~25 lengths, in
any order): each block must still relax the market exactly as the factors computed afresh would, compiled
(reference._decay, numpy's exp after it) and on the Python path."""

from __future__ import annotations

import numpy as np
import pytest

from backtest import compiled
from backtest.errors import InputError
from backtest.markets.reference import OutOfRange, ReferenceMarket


def _decayed(m: ReferenceMarket, seconds: float) -> None:
    """decay as written out, nothing kept: each asset's share 0.5 ** (seconds / h) left (0 with h <= 0)."""
    if seconds <= 0 or not m.temporary.any():
        return
    h = m.half_life
    keep = np.where(h > 0, 0.5 ** (seconds / np.where(h > 0, h, 1.0)), 0.0)
    m.temporary *= keep
    m.outstanding *= keep
    m.price[:] = m.exo * np.exp(m.permanent + m.temporary)


@pytest.mark.parametrize("python", [False, True])
@pytest.mark.parametrize("seed", range(3))
def test_decay_over_mixed_block_lengths_is_the_fresh_formula(seed, python):
    """Five assets as the sample's, then 40 of them (~5 % of numpy's exps differ from the C library's: an exp in
    the kernel would show)."""
    rng = np.random.default_rng(seed)
    n = 5 if seed < 2 else 40
    market = ReferenceMarket(rng.uniform(0.5, 3e4, n), np.resize([0.0, 0.3, 1.7, 0.05, 0.9], n),
                             np.resize([1e9, 0.0, 3e6, 5e11, 2e8], n), rng.uniform(0, 1, n),
                             np.resize([600.0, 0.0, 667.0, 90.0, 3600.0], n))
    with compiled.python_path(python):
        _decay_over_lengths(market, rng, n)


def _decay_over_lengths(market: ReferenceMarket, rng, n: int) -> None:
    twin = ReferenceMarket(market.exo.copy(), market.coefficient.copy(), market.volume.copy(),
                           market.permanent_share.copy(), market.half_life.copy())
    lengths = [12.0, np.float64(84.0), 96.0, 12.0, 564.0, 0.0, -3.0, 1e-9, 7e5] + [float(s) for s in rng.integers(1, 80, 90) * 12]
    for k, seconds in enumerate(lengths * 2):
        a, usd = int(rng.integers(n)), float(rng.choice([-1.0, 1.0]) * 10.0 ** rng.uniform(0, 7))
        market.trade(a, usd)
        twin.trade(a, usd)
        if k == len(lengths):                   # the half-lives change in place: nothing kept may serve them
            market.half_life[2] = twin.half_life[2] = 1234.5
        market.decay(seconds)
        _decayed(twin, seconds)
        for name in ("temporary", "outstanding", "price", "permanent"):
            assert getattr(market, name).tobytes() == getattr(twin, name).tobytes(), (k, seconds, name)


def test_a_trade_that_takes_a_price_past_a_floats_range_stops_with_one_line_and_leaves_the_market():
    # a flow so large against the volume that the log move passes ~709.78 (math.exp raised OverflowError in the
    # middle of a replay; then the price went to inf), or one that takes the price to 0: a pool pulled to it
    # divided by it later (ZeroDivisionError in follow_path, hypothesis through test_bounds_compiled). Now the
    # trade raises OutOfRange (an InputError: one line in the CLI), and the market is as before the trade.
    market = ReferenceMarket(np.array([2000.0, 1.0]), np.array([40.0, 0.3]), np.array([1e9, 1e9]),
                             np.array([0.5, 0.5]), np.array([600.0, 600.0]))
    market.trade(0, 1e5)
    before = [a.tobytes() for a in (market.price, market.permanent, market.temporary, market.outstanding)]
    for usd in (1e12, -1e12):
        with pytest.raises(OutOfRange, match="asset 0: a flow of .* to (inf|0) USD"):
            market.trade(0, usd)
        assert [a.tobytes() for a in (market.price, market.permanent, market.temporary, market.outstanding)] == before
    assert issubclass(OutOfRange, InputError)
    market.trade(0, 1e6)                          # an ordinary flow still moves it
    assert market.price[0] > float(np.frombuffer(before[0])[0]) and np.isfinite(market.price[0])
    market.trade(1, float("nan"))                 # NaN stays NaN, as math.exp leaves it
    assert np.isnan(market.price[1])
