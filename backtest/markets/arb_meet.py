"""Arbitrage to the price where a venue and its reference market meet (`arbitrage = "meet"`, a run's default).

The earlier rule (Router.arbitrage's own, `--set arbitrage=pull`) pulls every venue to the reference price as it was before the block's
arbitrage, then sends the flow that took to the reference market, which moves it (reference.py). Where
the reference is shallower than the venues for that flow, the reference lands beyond the venues on the
other side, and the next block's arbitrage pulls them back across: a two-block oscillation. The
square-root impact law makes it shallowest where its outstanding flow is near zero (infinite slope), so
any small gap grows until the move per flow matches the venues' (a cycle of +-1-2 % for WETH on the
sample, blocks 1-49 of step 71 with `wake_rounds=cut,comet_latency`), and the oracles, which read the
reference, swing with it while the pools swing the other way.

Arbitrageurs trade both sides until the prices meet: here, per asset, the USD price p at which pulling
every venue of the asset to p (to within its fee, an order book all the way) sends a flow whose impact
puts the reference at p. The reference after a flow is increasing in the flow and the flow decreasing
in p, so p is unique and found by bisection between the venues' prices and the reference's. Pools
quoted in another volatile asset (wstETH/WETH) are pulled at the quote asset's price before the block,
as Router.arbitrage does; the quote side of their flow is found first (those assets are solved first)
and counts in the quote asset's meeting price (not solved jointly).

Partial arbitrage (half-life > 0, `keep` = 0.5^(block / half-life) of each gap left open): a pool closes
`1 - keep` of its log gap to where the meeting price takes it; a book's makers re-quote around p and refill
`1 - keep` of its consumed depth (its marginal over its centre, `keep` of its log gap left). Each venue's
flow is then a part of its whole step's, of the same sign (the pulls are monotone), but their sum need not
be: venues on both sides of p, one whose flow is concave in the log move (a pool bought from) beside one
whose flow is convex (a pool sold into), can send the reference past p. The reference must end between
where it was and p, so a partial step that would carry it past p is taken whole (`_crosses`).

What the maths cannot hold is bad input, a one-line `TooFar` (a ValueError) naming the asset and the venue
farthest off: a price not positive and finite, or a meeting price whose bracket leaves a float's
exponent range (`_EXP_MIN`.. `_EXP_MAX`; `_after` prices at inf past it, as ReferenceMarket.trade does).
"""

from __future__ import annotations

import math

from backtest import compiled
from backtest.errors import InputError
from backtest.markets import meet_block, meet_compiled, meet_kept
from backtest.markets.depth_book import USD, DepthBook
from backtest.markets.meet_compiled import _EXP_MAX, _EXP_MIN
from backtest.markets.reference import _f
from backtest.markets.venue_kinds import arbitrage_goal

ITERATIONS = meet_compiled.ITERATIONS      # bisection in log price: 2^-80 of the bracket, below a float's resolution


class TooFar(InputError, ValueError):
    """Venues and a reference price the meeting price's maths cannot hold (the CLI prints it as one line)."""


def _flow(router, a: int, price: list, mids: list):
    """flow(p): the USD flow (at the price before the block) the asset's venues send the reference if
    pulled to `p`, with what does not move with p read once (the bisection asks ~55 times a block)."""
    parts = [(router.venues[v], _unit(router.venues[v], price), mid) for v, mid in zip(router.by_asset[a], mids)]
    pa = price[a]

    def flow(p: float) -> float:
        usd = 0.0
        for venue, q, mid in parts:
            target = p / q
            goal = arbitrage_goal(venue, target, mid)
            if goal is not None:
                usd += venue.pulled(goal, target)[0] * pa        # pull_to's base change, without the move
        return usd
    return flow


def _unit(venue, price: list) -> float:
    """USD per unit of the venue's quote asset (Router._quote_usd, from the block's price list)."""
    return 1.0 if venue.quote_asset == USD else price[venue.quote_asset]


def _reference_after(ref, a: int):
    """after(usd): the reference price of `a` once `usd` of flow reaches it (ReferenceMarket.trade without
    the trade, its state read once; in feedback_mode "excess" only the flow beyond what the path carries
    moves it)."""
    exo, level = float(ref.exo[a]), float(ref.permanent[a]) + float(ref.temporary[a])
    c, q, v, carried = float(ref.coefficient[a]), float(ref.outstanding[a]), float(ref.volume[a]), ref.carried
    now = _f(q, v)

    def after(usd: float) -> float:
        if carried is not None:
            usd = carried.peek(a, usd)
        x = level + (0.0 if c == 0.0 or usd == 0.0 else c * (_f(q + usd, v) - now))
        return exo * (math.exp(x) if not x > _EXP_MAX else math.inf)
    return after


def meeting_price(router, a: int, price: list, extra: float = 0.0) -> float:
    """The USD price at which the venues of `a`, pulled there, leave the reference there too, with `extra`
    USD of other flow (the quote side of pools quoted in `a`) reaching it as well."""
    venues = [router.venues[v] for v in router.by_asset[a]]
    mids, units = [venue.mid() for venue in venues], [_unit(venue, price) for venue in venues]
    if extra == 0.0 and _idle(venues, mids, units, price[a]):
        return price[a]             # every venue within its fee of the reference: nothing trades
    return _meet(router, a, price, extra, mids, units)[0]


def _idle(venues: list, mids: list, units: list, pa: float) -> bool:
    """Every venue (at `mids`, quoted in `units` USD) within its fee of the price `pa`: nothing trades."""
    for venue, mid, q in zip(venues, mids, units):
        if arbitrage_goal(venue, pa / q, mid) is not None:
            return False
    return True


def _meet(router, a: int, price: list, extra: float, mids: list, units: list, keep: float | None = None,
          venues: list | None = None) -> tuple:
    """meeting_price past its early return, the venues of `a` (`venues`, read anew if None) at `mids` quoted in
    `units` USD: (price, None), or with `keep` (arbitrage's) the compiled pulls to it if they were made
    (meet_compiled._settle's rows). TooFar where the maths cannot hold."""
    pa = price[a]
    usd_of = [m * q for m, q in zip(mids, units)]
    low, high, total = min(usd_of), max(usd_of), sum(usd_of)
    if not (0.0 < low and total - total == 0.0 and 0.0 < pa < math.inf):      # nan or inf anywhere: nan
        raise _too_far(router, a, price, usd_of, "the reference price is not positive and finite"
                       if not 0.0 < pa < math.inf else "a venue's price is not positive and finite")
    lo, hi = math.log(low if low < pa else pa) - 0.1, math.log(high if high > pa else pa) + 0.1
    if not _EXP_MIN <= lo <= hi <= _EXP_MAX:
        raise _too_far(router, a, price, usd_of, "the prices leave a float's range")
    got = None
    if compiled.ON and keep is None:        # the same bisection, compiled for every venue kind (meet_compiled.py)
        got = meet_compiled.meeting_price(router, a, price, mids, units, extra, lo, hi)
    elif compiled.ON:                       # and the pulls to it, on the rows kept between blocks (meet_kept.py)
        venues = [router.venues[v] for v in router.by_asset[a]] if venues is None else venues
        got = meet_kept.meeting_price(router, a, price, venues, mids, units, extra, lo, hi, keep)
    if got is None:
        got = _meet_py(router, a, price, extra, mids, lo, hi), None
    if not 0.0 < got[0] < math.inf:
        raise _too_far(router, a, price, usd_of, f"their meeting price with {extra:.6g} USD of other flow leaves a "
                       "float's range")
    return got


def _meet_py(router, a: int, price: list, extra: float, mids: list, lo: float, hi: float) -> float:
    """The bisection in Python closures (the reference path): the price, nan if its bracket leaves exp's range."""
    flow = _flow(router, a, price, mids)
    if extra == 0.0 and flow(price[a]) == 0.0:
        return price[a]             # pulls that move nothing (a goal a rounding away from the mid)
    after = _reference_after(router.reference, a)

    def excess(x):                  # > 0: the reference ends above exp(x)
        return after(flow(math.exp(x)) + extra) - math.exp(x)
    while excess(lo) < 0:
        lo -= 0.5
        if lo < _EXP_MIN:
            return math.nan
    while excess(hi) > 0:
        hi += 0.5
        if hi > _EXP_MAX:
            return math.nan
    for _ in range(ITERATIONS):
        mid = (lo + hi) / 2.0
        if mid in (lo, hi):
            break
        if excess(mid) > 0:
            lo = mid
        else:
            hi = mid
    return math.exp((lo + hi) / 2.0)


def _too_far(router, a: int, price: list, usd_of: list, why: str) -> TooFar:
    """The one-line error: the asset, its reference price and the venue farthest from it (a nan one first)."""
    pa = price[a]
    far = max(range(len(usd_of)), key=lambda k: math.inf if not 0.0 < usd_of[k] < math.inf or not 0.0 < pa < math.inf
              else abs(math.log(usd_of[k] / pa)))
    venue = router.venues[router.by_asset[a][far]]
    return TooFar(f"arbitrage cannot meet asset {a} (reference price {pa:.6g} USD) and its venue "
                  f"{venue.name or type(venue).__name__!r} ({usd_of[far]:.6g} USD): {why}")


def _part(venue, goal: float, target: float, mid: float, keep: float) -> float:
    """Partial arbitrage's goal (`keep` of the gap left open): a pool `keep` of its log gap from its mid to `goal`;
    a book re-centred on `target` with `keep` of its marginal's log gap to its centre (its consumed depth)."""
    if type(venue) is DepthBook:
        return target * (mid / venue.reference) ** keep
    return mid * (goal / mid) ** (1.0 - keep)


def _goals(venues: list, mids: list, units: list, p: float, keep: float) -> list:
    """Each venue's goal at the meeting price `p` (None: it does not trade), `keep` of its gap left open."""
    out = []
    for venue, mid, q in zip(venues, mids, units):
        goal = arbitrage_goal(venue, p / q, mid)
        out.append(_part(venue, goal, p / q, mid, keep) if goal is not None and keep > 0.0 else goal)
    return out


def _crosses(router, a: int, price: list, extra: float, mids: list, units: list, p: float, goals: list) -> bool:
    """The flow the pulls to `goals` send (with `extra`) carries the reference past the meeting price `p`: beyond
    the flow that takes it to p (meet_compiled._crosses, the same floats)."""
    whole = _flow(router, a, price, mids)(p) + extra       # the same sum as meet_compiled._meet_settle's
    part = extra
    for v, goal, q in zip(router.by_asset[a], goals, units):
        if goal is not None:
            part += router.venues[v].pulled(goal, p / q)[0] * price[a]
    return part > whole if whole > 0.0 else part < whole if whole < 0.0 else part != 0.0


def arbitrage(router, seconds: float, keep: float = 0.0) -> None:
    """Router.arbitrage: each asset's venues pulled to its meeting price, or with `keep` > 0 (partial
    arbitrage, 0.5 ** (seconds / half-life)) that part of each venue's log gap to it left open."""
    router._all_moved()
    router.reference.decay(seconds)
    if compiled.ON and meet_block.block(router, keep):      # the loop below and _requote in one compiled call
        return                                              # (meet_block.py)
    price = router.price.tolist()
    cross = [0.0] * len(price)
    every = router.venues
    for a in reversed(router.order):            # an asset quoted in another first: its quote side is known
        if not router.by_asset[a]:
            continue
        venues = [every[v] for v in router.by_asset[a]]
        mids = [venue.mid() for venue in venues]
        units = [1.0 if venue.quote_asset == USD else price[venue.quote_asset] for venue in venues]     # _unit
        flow, cross[a] = cross[a], 0.0
        got = meet_kept.step(router, a, price, venues, mids, units, flow, keep) if compiled.ON else meet_kept.ASIDE
        if got == meet_kept.IDLE:
            continue
        if got == meet_kept.ASIDE:          # the steps one by one (the Python path; what meet_kept.step leaves)
            if flow == 0.0 and _idle(venues, mids, units, price[a]):
                continue            # meeting_price's early return: p is price[a], no venue's goal moves it
            got = _meet(router, a, price, flow, mids, units, keep, venues)     # meeting_price, the mids read once
        p, made = got
        if made is None:
            goals = _goals(venues, mids, units, p, keep)
            if keep > 0.0 and _crosses(router, a, price, flow, mids, units, p, goals):
                goals = _goals(venues, mids, units, p, 0.0)         # the partial step would cross: whole
        for k, (venue, q) in enumerate(zip(venues, units)):
            if made is not None:                # the kernel's pulls (meet_compiled._settle), written back
                if made[k][0] == 0.0:
                    continue
                base, quote = meet_compiled.made(venue, made[k], p / q)
            else:
                if goals[k] is None:
                    continue
                base, quote = venue.pull_to(goals[k], p / q)
            flow += base * price[a]
            if venue.quote_asset != USD:
                cross[venue.quote_asset] += quote * price[venue.quote_asset]
        if flow != 0.0:
            router.reference.trade(a, flow)
    for a, usd in enumerate(cross):
        if usd != 0.0:
            router.reference.trade(a, usd)
    router._requote()
