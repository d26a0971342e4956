"""Oracles.update's round checks and round-based answers in one compiled call: with a few dozen feeds the
Python loop over them (12-21 us a block in situ, ~1,300 blocks a Monte Carlo path) is mostly the interpreter's.

Expression for expression the Python path's (backtest/markets/oracles.py, Oracles.update and _fill): an
aggregator pushes a round where abs(x / round - 1) >= deviation or its heartbeat has passed, x its read
price over its quote's (1.0 for USD: the 1.0 update appends); a Chainlink feed is round x quote price,
capped; an LST feed round x quote price x rate; a fixed feed its price x quote price. Only a static rate
(Oracles._rate_static) is compiled in. tests/markets/test_oracle_compiled.py holds it to the Python path
bit for bit.
"""

from __future__ import annotations

import numpy as np

from backtest import compiled

CHAINLINK, LST, FIXED = 0, 1, 2


def plan(oracles) -> tuple:
    """What `tick` reads of an Oracles, in four arrays (a compiled call's cost grows with its arguments):
    the aggregators' [read, quote] and [deviation, heartbeat], the planned feeds' [feed, kind, quote,
    aggregator] and [cap, fixed price, rate]; quotes -1 (USD) as they are."""
    rule, entries = oracles._rule, oracles._plan
    kinds = {"chainlink": CHAINLINK, "lst": LST, "fixed": FIXED}
    return (np.array([[r[0] for r in rule], [r[1] for r in rule]], dtype=np.int64),
            np.array([[r[2] for r in rule], [r[3] for r in rule]], dtype=float),
            np.array([[e[0] for e in entries], [kinds[e[1]] for e in entries], [e[2] for e in entries],
                      [e[5] for e in entries]], dtype=np.int64).reshape(4, len(entries)),
            np.array([[e[3] for e in entries], [e[4] for e in entries],
                      [float(oracles.rate0[e[0]]) for e in entries]], dtype=float).reshape(3, len(entries)))


def _tick(now, ref, rounds, pushed, answer, rule, limits, entry, terms) -> int:
    """Oracles.update's aggregator pass and _fill over the moving feeds and those whose round was pushed:
    `rounds` ([last round, its time] per aggregator) and `answer` updated in place, `pushed[j]` whether
    aggregator j pushed; returns how many did."""
    n = 0
    for j in range(rounds.shape[1]):
        q = rule[1, j]
        x = ref[rule[0, j]] / (ref[q] if q >= 0 else 1.0)
        if abs(x / rounds[0, j] - 1.0) >= limits[0, j] or now - rounds[1, j] >= limits[1, j]:
            rounds[0, j] = x
            rounds[1, j] = now
            pushed[j] = True
            n += 1
        else:
            pushed[j] = False
    for e in range(entry.shape[1]):
        k, kind, q, j = entry[0, e], entry[1, e], entry[2, e], entry[3, e]
        if q < 0 and not (j >= 0 and pushed[j]):       # neither moving (read in a quote) nor pushed
            continue
        p = ref[q] if q >= 0 else 1.0
        if kind == CHAINLINK:
            value = rounds[0, j] * p
            cap = terms[0, e]
            answer[k] = cap if value > cap else value
        elif kind == LST:
            answer[k] = rounds[0, j] * p * terms[2, e]
        else:
            answer[k] = terms[1, e] * p
    return n


tick = _tick
if compiled.ON:
    import numba
    tick = numba.njit(cache=True)(_tick)
