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
