"""The per-step table the Recorder builds from its per-step arrays is the one a row at a time gives:
each call's values in call order, however many calls (more than the path has steps included)."""

import numpy as np

from backtest.bench.book import bench_config, bench_inputs
from backtest.bench.replay_case import CONFIG
from backtest.engine.record import bad_debt_usd
from backtest.engine.replay import initial_venues
from backtest.engine.start import start


def test_steps_are_recorded_in_call_order_even_past_the_paths_length():
    inputs = bench_inputs(40, 3, 0)
    s = start(inputs, bench_config(CONFIG, inputs), initial_venues(inputs, True))
    rec, book = s.rec, s.state
    calls = [0, 1, 2, 2, 0, 1, 2]                       # 7 calls on a 3-step path: the arrays grow twice
    want = []
    for k, step in enumerate(calls):
        s.venues.sold[:] = k + 0.5                       # something that differs per call
        rec._count = list(range(k, k + len(inputs.book.price_assets)))
        rec.step(step, s.venues, s.oracles, bad_debt_usd(book.coll, book.debt, s.oracles.answer[s.oracles.feed_of]),
                 protocol_loss=float(k))
        want.append((step, inputs.times[step], list(inputs.exogenous[step]), [k + 0.5] * len(rec._count),
                     list(range(k, k + len(rec._count)))))
    steps = rec.outcome(book.coll, book.debt, s.oracles).steps
    table = steps.to_pydict()
    n = len(inputs.book.price_assets)
    assert table["step"] == [step for step, *_ in want for _ in range(n)]
    assert table["asset"] == list(inputs.book.price_assets) * len(calls)
    assert steps.column("timestamp").to_numpy().tolist() == [t.item() for _, t, *_ in want for _ in range(n)]
    assert table["price_exogenous"] == [x for _, _, exo, *_ in want for x in exo]
    assert table["sold"] == [x for *_, sold, _ in want for x in sold]
    assert table["liquidations"] == [x for *_, count in want for x in count]
    bad = np.array(table["bad_debt_usd"]).reshape(len(calls), n)
    assert (bad == bad[:, :1]).all() and np.diff(bad[:, 0]).tolist() == [1.0] * (len(calls) - 1)   # + loss k
    assert len(table["oracles"]) == n * len(calls)


def test_step_columns_worked_out_at_the_end_are_the_per_step_values():
    # sold_usd (sold x market price), price_oracle (each asset's first feed) and the oracles maps are worked
    # out once for every step: the same floats as reading the router and the feeds at each step.
    inputs = bench_inputs(40, 3, 0)
    s = start(inputs, bench_config(CONFIG, inputs), initial_venues(inputs, True))
    rec, book, venues, oracles = s.rec, s.state, s.venues, s.oracles
    rng = np.random.default_rng(3)
    feeds = rec._feeds(oracles)
    want = {"price_market": [], "price_amm": [], "sold_usd": [], "price_oracle": [], "oracles": []}
    for k, step in enumerate([0, 1, 2, 1, 0]):             # past the path's length: the arrays grow
        venues.price[:] = rng.random(len(venues.price)) * 10.0 ** rng.uniform(-3, 5, len(venues.price))
        venues.sold[:] = rng.standard_normal(len(venues.sold)) * 10.0 ** rng.uniform(-6, 6, len(venues.sold))
        venues.venue_price[:] = rng.random(len(venues.venue_price)) * 3e3
        oracles.answer = rng.random(len(oracles.answer)) * 10.0 ** rng.uniform(-3, 5, len(oracles.answer))
        rec.step(step, venues, oracles, 0.0)
        amm = venues.venue_price[np.maximum(venues.pool_of, 0)]
        amm[venues.pool_of < 0] = np.nan
        want["price_market"] += venues.price.tolist()
        want["price_amm"] += amm.tolist()
        want["sold_usd"] += (venues.sold * venues.price).tolist()
        want["price_oracle"] += rec.per_asset(oracles).tolist()
        want["oracles"] += [[(label.split(":", 1)[0], oracles.answer.tolist()[j]) for j, label in got] for got in feeds]
    table = rec.outcome(book.coll, book.debt, oracles).steps.to_pydict()
    for name in ("price_market", "price_amm", "sold_usd", "price_oracle"):
        assert np.array(table[name]).tobytes() == np.array(want[name]).tobytes(), name
    assert table["oracles"] == want["oracles"] and any(want["oracles"])


def test_liquidations_and_events_are_the_rows_of_the_calls_in_call_order():
    # a call's fields extend one flat list and `outcome` slices its columns; the names are the book's at
    # the rows' indices: the table a row at a time gives, bit for bit (NaN, -0.0 and numpy scalars too)
    from backtest.agents.liquidator import Plan
    from backtest.engine.record import EVENTS_SCHEMA, LIQUIDATIONS_SCHEMA
    inputs = bench_inputs(40, 3, 0)
    s = start(inputs, bench_config(CONFIG, inputs), initial_venues(inputs, True))
    rec, book = s.rec, inputs.book
    rng = np.random.default_rng(11)
    n, r = len(book.accounts), len(book.assets)
    want, events = [], []
    for k in range(25):
        rec.now = float(k // 3) * 12.0                   # rows share a block, three at a time
        i, d, c = int(rng.integers(n)), int(rng.integers(r)), int(rng.integers(r))
        f = rng.standard_normal(9) * 10.0 ** rng.uniform(-6, 6, 9)
        f[k % 9] = (np.nan, -0.0, 0.0)[k % 3]
        plan = Plan(d, c, float(f[0]), float(f[1]), float(f[2]), 0.0, 0.0, np.float64(f[3]), float(f[4]), float(f[5]))
        oracle = rng.random(r) * 3e3
        rec.liquidation(k, i, plan, oracle, k % 4, float(f[6]), float(f[7]), np.float64(f[8]), 1.1, 0.0,
                        liquidator=f"agent{k % 2}", action=("liquidate", "absorb")[k % 2])
        at = inputs.times[0] + np.timedelta64(int(round(rec.now * 1e6)), "us")
        pd, pc = float(oracle[d]), float(oracle[c])
        want.append({"step": k, "timestamp": at.item(), "protocol": str(book.protocol[i]),
                     "account": str(book.accounts[i]), "debt_asset": book.assets[d], "collateral_asset": book.assets[c],
                     "debt_repaid": f[0], "collateral_seized": f[1], "protocol_fee": f[2], "debt_price": pd,
                     "collateral_price": pc, "debt_repaid_usd": f[0] * pd, "collateral_seized_usd": f[1] * pc,
                     "round": k % 4, "liquidator": f"agent{k % 2}", "cost_usd": f[6], "proceeds_usd": f[7],
                     "gas_usd": f[3], "profit_usd": f[7] - f[6] - f[3] - f[4] - f[5], "health_factor_before": f[8],
                     "health_factor_after": 1.1, "deficit_usd": 0.0, "action": ("liquidate", "absorb")[k % 2],
                     "flash_fee_usd": f[4], "builder_usd": f[5]})
        if k % 2:
            rec.event(k, k % 4, "maker", "take", auction=k, asset="WETH", amount=k + 0.5, tab=-0.0)
            events.append((k, at.item(), k % 4, "maker", "take", k, "WETH", k + 0.5))
    out = rec.outcome(s.state.coll, s.state.debt, s.oracles)
    got = out.liquidations.to_pylist()
    assert out.liquidations.schema == LIQUIDATIONS_SCHEMA and len(got) == len(want)
    for g, w in zip(got, want):
        assert list(g) == list(w)
        for name, v in w.items():
            x = g[name]
            if name == "timestamp":
                x, v = x.replace(tzinfo=None), v
            assert (x != x and v != v) or (x == v and np.copysign(1, x) == np.copysign(1, v) if isinstance(v, float)
                                          else x == v), (name, x, v)
    ev = out.events.to_pylist()
    assert out.events.schema == EVENTS_SCHEMA and len(ev) == len(events)
    for e, (step, at, rnd, protocol, action, auction, asset, amount) in zip(ev, events):
        assert (e["step"], e["timestamp"].replace(tzinfo=None), e["round"], e["protocol"], e["action"], e["auction"],
                e["asset"], e["amount"], e["account"], e["liquidator"]) == \
            (step, at, rnd, protocol, action, auction, asset, amount, "", "")
        assert np.copysign(1, e["tab"]) == -1 and e["lot"] != e["lot"]      # -0.0 kept, a column not given NaN


def test_a_books_name_columns_are_the_same_on_its_first_run_and_after():
    # a book's first run gathers its names in numpy, later runs in arrow arrays of the whole book made on the
    # second (engine/record.py BookNames): every run's name columns are the book's names at the rows' indices,
    # names of any length, spaces and non-ASCII characters included
    from dataclasses import replace
    from backtest.agents.liquidator import Plan
    inputs = bench_inputs(40, 3, 0)
    names = np.array(["0x" + "ab" * 20, "é", "x y ", " ", "ünï\u00e7ødé\U0001f600", "0xAB"] * 7)[:40]
    inputs = replace(inputs, book=replace(inputs.book, accounts=names))
    book, rng = inputs.book, np.random.default_rng(5)
    rows = [(int(rng.integers(len(names))), int(rng.integers(len(book.assets))), int(rng.integers(len(book.assets))))
            for _ in range(30)]
    want = {"protocol": [str(book.protocol[i]) for i, _, _ in rows], "account": [str(names[i]) for i, _, _ in rows],
            "debt_asset": [book.assets[d] for _, d, _ in rows], "collateral_asset": [book.assets[c] for *_, c in rows]}
    assert len(set(want["account"])) == 6
    for run in range(3):
        s = start(inputs, bench_config(CONFIG, inputs), initial_venues(inputs, True))
        for k, (i, d, c) in enumerate(rows):
            s.rec.liquidation(0, i, Plan(d, c, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0), np.ones(len(book.assets)), 0,
                              1.0, 2.0, 0.9, 1.1)
        got = s.rec.outcome(s.state.coll, s.state.debt, s.oracles).liquidations.select(list(want)).to_pydict()
        assert got == want, run
