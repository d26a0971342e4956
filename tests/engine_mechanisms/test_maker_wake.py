"""Maker.wake finds each auction's next keeper latency from the agents' latencies sorted once: the same
time, bit for bit, as shared.latency_ends' minimum over every agent (the rule it replaced)."""

from types import SimpleNamespace

import numpy as np
from hypothesis import given, settings, strategies as st

from backtest.protocols.maker.mechanism import Auction, Maker
from backtest.protocols.maker.params import ILKS, Ilk
from backtest.protocols.shared import after, latency_ends

LATENCY = st.one_of(st.integers(0, 12), st.floats(0, 12), st.just(float("nan")), st.just(float("inf")))


def _wake_as_before(self, now: float, block: float) -> float:
    t = np.inf
    for a in self.auctions:
        ilk, dur = self.ilks[a.coll], now - a.tic
        cut = a.tic + (dur // ilk.step + 1) * ilk.step if ilk.curve == "stairstep" else after(now)
        tail = after(a.tic + ilk.tail) if not dur > ilk.tail else np.inf
        t = min(t, cut, tail, latency_ends(self.agents, a.tic, now, block))
    return t


@settings(max_examples=300, deadline=None)
@given(latencies=st.lists(LATENCY, min_size=1, max_size=5), tics=st.lists(st.floats(0, 50_000), min_size=1, max_size=6),
       now=st.floats(0, 60_000), block=st.sampled_from([0.0, 1.0, 12.0, 12.5]), linear=st.booleans())
def test_maker_wake_is_latency_ends_minimum(latencies, tics, now, block, linear):
    ilks = {0: ILKS["ETH-A"], 1: Ilk(curve="linear") if linear else ILKS["WBTC-B"]}
    agents = tuple(SimpleNamespace(latency_blocks=x) for x in latencies)
    auctions = [Auction(k, k, k % 2, 1.0, 1.0, 2_000.0, tic) for k, tic in enumerate(tics)]
    maker = SimpleNamespace(auctions=auctions, ilks=ilks, agents=agents)
    maker._latencies = lambda: Maker._latencies(maker)
    got, want = Maker.wake(maker, now, block), _wake_as_before(maker, now, block)
    assert got == want or (got != got and want != want)
    for a in auctions:                          # each auction's own latency end, as latency_ends has it
        alone = SimpleNamespace(auctions=[a], ilks=ilks, agents=agents)
        alone._latencies = maker._latencies
        assert Maker.wake(alone, now, block) == _wake_as_before(alone, now, block)
