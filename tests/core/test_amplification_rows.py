"""The amplification metrics in numpy give the bits of the row-by-row loops they replaced (kept here
as the reference): seized value summed in row order, returns of none/zero/NaN skipped, and an
account's first no-feedback liquidation looked up per (protocol, account)."""

from types import SimpleNamespace as NS

import numpy as np
import pyarrow as pa

from backtest.metrics.amplification import induced, seized_exogenous_usd

ASSETS = ["WETH", "WBTC", "USDC"]


def _seized_loop(inputs, outcome) -> float:
    index = {a: k for k, a in enumerate(inputs.book.price_assets)}
    exo, liq, events, total = inputs.exogenous, outcome.liquidations, outcome.events, 0.0
    for s, a, units in zip(liq["step"].to_pylist(), liq["collateral_asset"].to_pylist(),
                           liq["collateral_seized"].to_pylist()):
        total += units * exo[s, index[a]]
    for s, a, back in zip(events["step"].to_pylist(), events["asset"].to_pylist(), events["returned"].to_pylist()):
        if back and back == back:
            total -= back * exo[s, index[a]]
    return float(total)


def _induced_loop(feedback, without) -> np.ndarray:
    liq, base = feedback.liquidations, without.liquidations
    first: dict = {}
    for s, p, a in zip(base["step"].to_pylist(), base["protocol"].to_pylist(), base["account"].to_pylist()):
        first.setdefault((p, a), s)
    never = np.iinfo(np.int64).max
    return np.array([first.get((p, a), never) > s for s, p, a in
                     zip(liq["step"].to_pylist(), liq["protocol"].to_pylist(), liq["account"].to_pylist())],
                    dtype=bool)


def _run(rng, n: int, steps: int) -> NS:
    step = np.sort(rng.integers(0, steps, n)).astype(np.int32)
    liq = pa.table({"step": pa.array(step, pa.int32()),
                    "protocol": rng.choice(["aave-v3", "compound-v2", "maker"], n).tolist(),
                    "account": [f"0x{k}" for k in rng.integers(0, n // 3 + 1, n)],
                    "collateral_asset": rng.choice(ASSETS, n).tolist(),
                    "collateral_seized": rng.lognormal(0.0, 3.0, n)})
    m = max(n // 2, 1)
    back = rng.lognormal(0.0, 2.0, m)
    back[rng.random(m) < 0.3] = 0.0
    back[rng.random(m) < 0.1] = np.nan
    returned = [None if r < 0.1 else float(b) for r, b in zip(rng.random(m), back)]
    asset = rng.choice(ASSETS, m).tolist()
    asset = [a if r else "NOT-A-PRICE-ASSET" for a, r in zip(asset, returned)]    # read only where returned
    events = pa.table({"step": pa.array(np.sort(rng.integers(0, steps, m)), pa.int32()), "asset": asset,
                       "returned": pa.array(returned, pa.float64())})
    return NS(liquidations=liq, events=events)


def test_seized_exogenous_usd_is_the_row_by_row_sum_bit_for_bit():
    rng = np.random.default_rng(7)
    for n in (1, 5, 300, 4000):
        steps = 50
        inputs = NS(book=NS(price_assets=ASSETS), exogenous=rng.lognormal(5.0, 2.0, (steps, len(ASSETS))))
        outcome = _run(rng, n, steps)
        got, want = seized_exogenous_usd(inputs, outcome), _seized_loop(inputs, outcome)
        assert got == want and np.isfinite(got)
        for name in ("liquidations", "events"):             # tables of two chunks (each its own dictionary)
            t = getattr(outcome, name)
            setattr(outcome, name, pa.concat_tables([t.slice(0, t.num_rows // 2), t.slice(t.num_rows // 2)]))
        assert seized_exogenous_usd(inputs, outcome) == want
        # a pairwise sum (np.sum) of the same terms differs in the last bits on these lognormal terms
        if n == 4000:
            liq = outcome.liquidations
            idx = [ASSETS.index(a) for a in liq["collateral_asset"].to_pylist()]
            terms = liq["collateral_seized"].to_numpy() * inputs.exogenous[liq["step"].to_numpy(), idx]
            assert float(np.sum(terms)) != float(np.cumsum(terms)[-1])


def test_seized_exogenous_usd_of_no_rows_is_zero_and_no_events_is_allowed():
    inputs = NS(book=NS(price_assets=ASSETS), exogenous=np.ones((3, 3)))
    empty = _run(np.random.default_rng(1), 4, 3)
    empty.liquidations = empty.liquidations.slice(0, 0)
    empty.events = empty.events.slice(0, 0)
    assert seized_exogenous_usd(inputs, empty) == 0.0
    one = _run(np.random.default_rng(2), 4, 3)
    one.events = None
    assert seized_exogenous_usd(inputs, one) == float(np.cumsum(one.liquidations["collateral_seized"].to_numpy())[-1])


def test_induced_matches_the_first_step_per_account_loop():
    rng = np.random.default_rng(11)
    for n in (1, 7, 200, 3000):
        feedback, without = _run(rng, n, 40), _run(rng, max(n // 2, 1), 40)
        got, want = induced(feedback, without), _induced_loop(feedback, without)
        assert got.dtype == bool and got.tolist() == want.tolist()
        two = NS(liquidations=pa.concat_tables([without.liquidations.slice(0, 1), without.liquidations.slice(1)]))
        assert induced(feedback, two).tolist() == want.tolist()
        assert 0 < got.sum() < len(got) or n < 10          # both kinds of row appear on the larger runs
    # the same account under another protocol is another key
    f = NS(liquidations=pa.table({"step": pa.array([3], pa.int32()), "protocol": ["aave-v3"], "account": ["0x1"]}))
    w = NS(liquidations=pa.table({"step": pa.array([1], pa.int32()), "protocol": ["maker"], "account": ["0x1"]}))
    assert induced(f, w).tolist() == [True] and induced(f, f).tolist() == [False]
    none = NS(liquidations=w.liquidations.slice(0, 0))
    assert induced(f, none).tolist() == [True] and induced(none, w).tolist() == []
