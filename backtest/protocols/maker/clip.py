"""Maker Liquidations 2.0 (makerdao/dss): Dog.bark, Clipper kick/redo/take, abaci price curves.

A vault is not liquidated against a fixed bonus: `bark` moves (part of) it into a Dutch
auction whose price starts at feed x buf and decays along a curve; keepers `take` at the
current price. The penalty `chop` is added to the debt to raise (`tab`); the keeper who
barks is paid `tip + tab x chip`. An auction too old (`tail`) or too cheap (`cusp`) must be
reset with `redo`, which restarts the price from the current feed.

Float units: ink/lot in collateral units, art normalised debt, rate as a multiplier (1.02),
spot in DAI per collateral unit (price / mat), dust/tab/hole/tip in DAI, chop 1.13 for 13 %.
The same maths in the contracts' integers (wad, ray, rad) is exact.py.

Sources: src/dog.sol (bark), src/clip.sol (kick, redo, take, status, upchost),
src/abaci.sol (LinearDecrease, StairstepExponentialDecrease, ExponentialDecrease, rpow).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np


class Bark(NamedTuple):
    dart: np.ndarray     # normalised debt taken into the auction
    dink: np.ndarray     # collateral taken into the auction (the lot)
    due: np.ndarray      # DAI of debt moved to the Vow (dart x rate)
    tab: np.ndarray      # DAI the auction must raise (due x chop)
    allowed: np.ndarray  # False where bark reverts (no room, dusty partial, null auction)


class Take(NamedTuple):
    slice: np.ndarray    # collateral bought
    owe: np.ndarray      # DAI paid
    tab: np.ndarray      # DAI still to raise
    lot: np.ndarray      # collateral still for sale
    allowed: np.ndarray  # False where take reverts (too expensive, no partial purchase)


# ----------------------------------------------------------------- float64

def unsafe(ink, art, rate, spot) -> np.ndarray:
    return np.asarray(ink, dtype=float) * spot < np.asarray(art, dtype=float) * rate


def room(Hole, Dirt, hole, dirt) -> np.ndarray:
    """DAI of tab the Dog may still start: min of the global and the ilk's remaining limit."""
    return np.maximum(np.minimum(np.asarray(Hole, dtype=float) - Dirt, np.asarray(hole, dtype=float) - dirt), 0.0)


def bark(ink, art, rate, chop, dust, room) -> Bark:
    """Liquidate up to `room` DAI of tab (room = min(Hole - Dirt, ilk.hole - ilk.dirt)).

    A remainder below dust takes the whole vault (so the limits can be overshot a little);
    a partial auction below dust reverts.
    """
    ink, art, room = (np.asarray(x, dtype=float) for x in (ink, art, room))
    dart = np.minimum(art, room / rate / chop)
    partial = art > dart
    dusty_rest = partial & ((art - dart) * rate < dust)
    dart = np.where(dusty_rest, art, dart)
    dusty_auction = partial & ~dusty_rest & (dart * rate < dust)
    dink = np.where(art > 0, ink * dart / np.where(art > 0, art, 1.0), 0.0)
    allowed = (room > 0) & ~dusty_auction & (dink > 0)
    due = dart * rate
    z = np.zeros_like(dart)
    return Bark(np.where(allowed, dart, z), np.where(allowed, dink, z), np.where(allowed, due, z),
                np.where(allowed, due * chop, z), allowed)


def kick(tab, feed_price, buf, tip, chip):
    """(top, coin): the auction's starting price and the keeper's reward in DAI."""
    return np.asarray(feed_price, dtype=float) * buf, tip + np.asarray(tab, dtype=float) * chip


def chost(dust, chop):
    """Smallest tab worth an incentive, and the smallest remainder a partial take may leave."""
    return dust * chop


def linear_decrease(top, dur, tau):
    """top x (tau - dur) / tau, 0 from tau on."""
    dur = np.asarray(dur, dtype=float)
    return np.where(dur >= tau, 0.0, np.asarray(top, dtype=float) * (tau - dur) / tau)


def stairstep_exponential_decrease(top, dur, cut, step):
    """top x cut^floor(dur / step): `cut` 0.99 drops 1 % every `step` seconds."""
    return np.asarray(top, dtype=float) * np.power(cut, np.floor_divide(np.asarray(dur), step))


def exponential_decrease(top, dur, cut):
    """top x cut^dur, a per-second decay."""
    return np.asarray(top, dtype=float) * np.power(cut, np.asarray(dur, dtype=float))


def seconds_until_price(top, target, curve: str, *, tau=None, cut=None, step=None):
    """First elapsed time at which the curve's price is <= `target` (inf if it never is).

    The inverse of the price curves, for an engine that lets a keeper take as soon as the
    auction price drops to what the collateral fetches elsewhere. `curve` is "linear",
    "stairstep" or "exponential".
    """
    ratio = np.asarray(target, dtype=float) / np.asarray(top, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        if curve == "linear":
            out = np.ceil(tau * (1.0 - ratio) - 1e-9)
        elif curve in ("stairstep", "exponential"):
            n = np.ceil(np.log(np.where(ratio > 0, ratio, np.nan)) / np.log(cut) - 1e-9)
            out = n * (step if curve == "stairstep" else 1)
            out = np.where(ratio > 0, out, np.inf)
        else:
            raise ValueError(f"unknown curve {curve!r}")
    return np.where(ratio >= 1.0, 0.0, np.maximum(out, 0.0))


def needs_redo(dur, price, top, tail, cusp) -> np.ndarray:
    """Clipper.status `done`: older than tail seconds, or price fell below cusp x top."""
    return (np.asarray(dur) > tail) | (np.asarray(price, dtype=float) / top < cusp)


def redo_coin(tab, lot, feed_price, tip, chip, chost_):
    """Keeper reward on redo: paid only if tab and the lot's value are both >= chost."""
    tab = np.asarray(tab, dtype=float)
    pays = (tab >= chost_) & (np.asarray(lot, dtype=float) * feed_price >= chost_)
    return np.where(pays, tip + tab * chip, 0.0)


def take(tab, lot, price, amt, max_price, chost_) -> Take:
    """Buy up to `amt` collateral at `price` (must be <= max_price); never more DAI than tab.

    A purchase that would leave less than chost of tab is cut down to leave exactly chost,
    and is refused when the tab itself is at most chost (then only the whole lot may go).
    """
    tab, lot, price = (np.asarray(x, dtype=float) for x in (tab, lot, price))
    slice_ = np.minimum(lot, amt)
    owe = slice_ * price
    over = owe > tab
    owe = np.where(over, tab, owe)
    slice_ = np.where(over, tab / price, slice_)
    small_rest = ~over & (owe < tab) & (slice_ < lot) & (tab - owe < chost_)
    refused = small_rest & (tab <= chost_)
    owe = np.where(small_rest, tab - chost_, owe)
    slice_ = np.where(small_rest, (tab - chost_) / price, slice_)
    allowed = (np.asarray(max_price) >= price) & ~refused
    z = np.zeros_like(owe)
    return Take(np.where(allowed, slice_, z), np.where(allowed, owe, z),
                np.where(allowed, tab - owe, tab), np.where(allowed, lot - slice_, lot), allowed)



def take_one(tab: float, lot: float, price: float, amt: float, max_price: float, chost_: float) -> Take:
    """`take` for one auction, in plain floats: the keepers ask it for every size of every open auction
    each round, where numpy's per-call cost is most of the work. The same operations in the same order
    and numpy's NaN and division-by-zero results, so the same floats (tests/protocols/test_maker_take_one.py)."""
    slice_ = math.nan if lot != lot or amt != amt else (lot if lot <= amt else amt)      # np.minimum
    owe = slice_ * price
    over = owe > tab
    if over:
        owe, slice_ = tab, _div(tab, price)
    small_rest = not over and owe < tab and slice_ < lot and tab - owe < chost_
    refused = small_rest and tab <= chost_
    if small_rest:
        owe, slice_ = tab - chost_, _div(tab - chost_, price)
    if max_price >= price and not refused:
        return Take(slice_, owe, tab - owe, lot - slice_, True)
    return Take(0.0, 0.0, tab, lot, False)


NO_TAKE_MARGIN = 1e-8   # relative: shared.SLACK (1e-9) and every rounding of take_one and none_can_clear, with room
_TINY, _BIG = 1e-100, 1e100     # no_take_clears' range: underflow's absolute errors stay far below its margin


def no_take_clears(tab: float, lot: float, price: float, chost_: float, ceiling: float, floor: float, bar: float) -> bool:
    """True when no take_one(tab, lot, price, amt, price, chost_) of any size, sold at `ceiling` and its DAI bought
    at `floor`, passes shared.none_can_clear against `bar`: Maker.trade then skips building each size's Take.
    Every take sells slice <= min(lot, tab / price) and pays owe >= slice x price, each to a few roundings
    (slice is min(lot, amt), fl(tab / price), or fl(tab - chost) / price with that below fl(slice x price)),
    so none_can_clear's bound of each is at most slice x (ceiling - price x floor) plus SLACK's terms;
    NO_TAKE_MARGIN covers SLACK and those roundings. False (look at the sizes) for NaN, infinities and anything
    outside [_TINY, _BIG] (tests/protocols/test_maker_take_one.py)."""
    if not (_TINY <= price <= _BIG and 0.0 <= tab <= _BIG and 0.0 <= lot <= _BIG and 0.0 <= ceiling <= _BIG
            and 0.0 <= floor <= _BIG and _TINY <= bar <= _BIG and chost_ >= 0.0):
        return False
    most = tab / price
    if lot < most:
        most = lot
    gain = most * (1.0 + NO_TAKE_MARGIN) * (ceiling * (1.0 + NO_TAKE_MARGIN) - price * floor * (1.0 - NO_TAKE_MARGIN))
    return (gain if gain > 0.0 else 0.0) + NO_TAKE_MARGIN * bar < bar * (1.0 - NO_TAKE_MARGIN)


_CUTS: dict = {}        # (cut, cuts so far) -> numpy's power of them (its bits: Python's ** can differ in the last)


def stairstep_one(top: float, dur: float, cut: float, step: float) -> float:
    """stairstep_exponential_decrease for one auction in plain floats (asked of every open auction at
    every block the keepers look): Python's float // is numpy's floor_divide, the power is numpy's own,
    kept per (cut, cuts) (tests/protocols/test_maker_take_one.py); anything not finite goes to numpy."""
    if not (step > 0.0 and math.isfinite(dur) and math.isfinite(top)):
        return float(stairstep_exponential_decrease(top, dur, cut, step))
    return top * _cuts(cut, dur // step)


def _cuts(cut: float, k: float) -> float:
    """numpy's power cut^k, kept per (cut, k)."""
    factor = _CUTS.get((cut, k))
    if factor is None:
        if len(_CUTS) > 4096:
            _CUTS.clear()
        factor = _CUTS[cut, k] = float(np.power(cut, k))
    return factor


def stairstep_least(top: float, lo: float, hi: float, cut: float, step: float, tail: float, cusp: float
                    ) -> float | None:
    """The least price `stairstep_one` gives an auction of `top` at any age in [lo, hi] seconds, or None when
    its status could be `done` (needs_redo_one) at one of those ages or a price is not a finite number >= 0.
    Python's float // grows with the age, so those ages' cuts are the whole numbers lo // step .. hi // step
    (at most 8): their least factor (`_least_cut`, numpy's powers whatever their order) times top is the least
    of their prices (a product by top >= 0 rounds in order), and its ratio to top the least of theirs."""
    if not (step > 0.0 and math.isfinite(lo) and math.isfinite(hi) and 0.0 <= top < math.inf) or hi > tail:
        return None
    price = top * _least_cut(cut, lo // step, hi // step)
    if not 0.0 <= price < math.inf or _div(price, top) < cusp:
        return None
    return price


_LEAST: dict = {}       # (cut, first, last) -> the least of numpy's powers cut^first .. cut^last (NaN: one is not finite)


def _least_cut(cut: float, first: float, last: float) -> float:
    key = (cut, first, last)
    least = _LEAST.get(key)
    if least is None:
        least = math.nan
        if 0.0 <= last - first < 8.0 and -2.0 ** 52 < first and last < 2.0 ** 52:    # whole numbers first + j steps through
            factors = [_cuts(cut, first + j) for j in range(int(last - first) + 1)]
            if all(-math.inf < f < math.inf for f in factors):    # else a product by top could be NaN
                least = min(factors)
        if len(_LEAST) > 4096:
            _LEAST.clear()
        _LEAST[key] = least
    return least


def needs_redo_one(dur: float, price: float, top: float, tail: float, cusp: float) -> bool:
    """`needs_redo` for one auction in plain floats (asked of every open auction each round)."""
    return dur > tail or _div(price, top) < cusp


def kick_one(tab: float, feed_price: float, buf: float, tip: float, chip: float) -> tuple[float, float]:
    """`kick` of one auction in plain floats, (top, coin): the same products (Maker.liquidate's every bark)."""
    return feed_price * buf, tip + tab * chip


def room_one(Hole: float, Dirt: float, hole: float, dirt: float) -> float:
    """`room` of one ilk in plain floats (Maker.liquidate asks it of every vault it may bark)."""
    return _max(_min(float(Hole) - Dirt, float(hole) - dirt), 0.0)


def bark_one(ink: float, art: float, rate: float, chop: float, dust: float, room: float) -> Bark:
    """`bark` of one vault in plain floats: numpy's minimum and where, the same products and quotients in the
    same order (tests/protocols/test_maker_take_one.py); a zero divisor goes to numpy."""
    if rate == 0.0 or chop == 0.0:
        got = bark(ink, art, rate, chop, dust, room)
        return Bark(*(float(x) for x in got[:4]), bool(got[4]))
    dart = _min(art, room / rate / chop)
    partial = art > dart
    dusty_rest = partial and (art - dart) * rate < dust
    if dusty_rest:
        dart = art
    dusty_auction = partial and not dusty_rest and dart * rate < dust
    dink = ink * dart / art if art > 0 else 0.0
    if not (room > 0 and not dusty_auction and dink > 0):
        return Bark(0.0, 0.0, 0.0, 0.0, False)
    due = dart * rate
    return Bark(dart, dink, due, due * chop, True)


def _min(x: float, y: float) -> float:
    """np.minimum of two floats: NaN if either is, the second of two equal (so of 0.0 and -0.0)."""
    return x if (x < y or x != x) else y


def _max(x: float, y: float) -> float:
    """np.maximum of two floats, as `_min`."""
    return x if (x > y or x != x) else y


def _div(x: float, y: float) -> float:
    """x / y as numpy divides floats: inf or NaN for a zero divisor, not an exception."""
    if y != 0.0:
        return x / y
    if x != x or x == 0.0:
        return math.nan
    return math.copysign(math.inf, x) * math.copysign(1.0, y)
