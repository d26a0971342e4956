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
