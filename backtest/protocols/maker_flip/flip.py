"""Maker Liquidations 1.x (makerdao/dss): Cat.bite and the Flipper's English auction, as pure maths.

`bite` takes (part of) an unsafe vault into an auction: Cat 1.0 (deployed Nov 2019, in force on
12-13 March 2020) takes `lot = min(ink, lump)` collateral and the same share of the debt; Cat 1.2
(Aug 2020 to the Clipper switch) takes up to `min(dunk, box - litter)` DAI of tab. The auction must
raise `tab = art x rate x chop` (the debt `due = art x rate` goes to the Vow as Sin). Keepers `tend`:
bid more DAI for the fixed lot, each bid at least `beg` times the last (or exactly tab); once the bid
equals tab they `dent`: the same tab for less collateral, each lot at most lot / beg, the rest going
back to the vault owner. Every bid restarts a `ttl` clock; `deal` settles after ttl without a new bid
or after the auction's `end` (kick + tau). An auction nobody bid on cannot be dealt: `tick` restarts
its end. The Vow's loss on an auction is `due - bid` when the winning bid is below the debt.

The functions take an `Auction` and return the new one, or raise `FlipRevert` with the contract's
revert reason. They are generic over numbers: floats with `one = 1.0` (beg 1.03) or the contracts'
integers with `one = WAD` (beg 1.03e18, bids in rad, lots in wad).

Sources: makerdao/dss at f632302 (2020-01-22, the code deployed at MCD launch): src/cat.sol `bite`,
src/flip.sol `kick`, `tick`, `tend`, `dent`, `deal`; Cat 1.2 at c103b30 (2020-10-08) src/cat.sol `bite`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import NamedTuple

WAD, RAY = 10**18, 10**27
ACTIONS = ("bite", "tend", "dent", "deal", "tick")     # the events a Cat/Flip run records (protocol "maker")


class FlipRevert(ValueError):
    """A call the contract would revert, with its reason ("Flipper/bid-not-higher")."""


class Bite(NamedTuple):
    lot: float     # collateral into the auction (dink)
    art: float     # normalised debt taken (dart)
    due: float     # DAI of debt moved to the Vow's Sin: art x rate
    tab: float     # DAI the auction must raise: due x chop


@dataclass(frozen=True)
class Auction:
    """flip.sol's Bid: `guy` "" before the first bid (dss: the Cat, which kicked), `tic` 0 before it."""
    id: int
    bid: float          # DAI bid so far
    lot: float          # collateral for sale
    tab: float          # DAI to raise
    due: float          # the debt behind it (the Vow's Sin), for the loss
    end: float          # kick + tau, seconds
    tic: float = 0.0    # last bid + ttl; 0: no bid yet
    guy: str = ""       # high bidder


# ----------------------------------------------------------------------------- Cat

def bite(ink, art, rate, chop, lump=float("inf"), dunk=float("inf"), room=float("inf")) -> Bite:
    """Cat.bite in floats. Cat 1.0: `lump` (collateral per auction); Cat 1.2: `dunk` (DAI of tab per
    auction) and `room` (box - litter). Leave the other version's limits infinite."""
    if lump < float("inf"):
        lot = min(ink, lump)
        dart = min(art, lot * art / ink)
    else:
        dart = min(art, min(dunk, room) / rate / chop)
        lot = min(ink, ink * dart / art)
    due = dart * rate
    return Bite(lot, dart, due, due * chop)


def bite_exact(ink: int, art: int, rate: int, spot: int, chop: int, lump: int | None = None,
               dunk: int | None = None, box: int | None = None, litter: int = 0, dust: int = 0) -> Bite:
    """Cat.bite in the contract's integers (ink, art, lump wad; rate, spot, chop ray in Cat 1.0;
    chop wad, dunk, box, litter, dust rad in Cat 1.2); FlipRevert with the Cat's reason."""
    if not (spot > 0 and ink * spot < art * rate):
        raise FlipRevert("Cat/not-unsafe")
    if lump is not None:                                       # Cat 1.0 (f632302)
        lot = min(ink, lump)
        dart = min(art, lot * art // ink)
        due = dart * rate
        return Bite(lot, dart, due, due * chop // RAY)
    room = box - litter                                        # Cat 1.2 (c103b30)
    if not (litter < box and room >= dust):
        raise FlipRevert("Cat/liquidation-limit-hit")
    dart = min(art, min(dunk, room) * WAD // rate // chop)
    lot = min(ink, ink * dart // art)
    if dart == 0 or lot == 0:
        raise FlipRevert("Cat/null-auction")
    due = dart * rate
    return Bite(lot, dart, due, due * chop // WAD)


# ----------------------------------------------------------------------------- Flipper

def kick(id_: int, now, tab, lot, due, tau, bid=0) -> Auction:
    """Flipper.kick: the Cat opens the auction at bid 0; it ends at now + tau unless bids end it sooner."""
    return Auction(id_, bid, lot, tab, due, now + tau)


def open_for_bids(a: Auction, now) -> None:
    """The checks tend and dent share: a bid's ttl not run out, the auction's end not passed."""
    if not (a.tic > now or a.tic == 0):
        raise FlipRevert("Flipper/already-finished-tic")
    if not a.end > now:
        raise FlipRevert("Flipper/already-finished-end")


def tend(a: Auction, now, guy: str, lot, bid, beg, ttl, one=1.0) -> Auction:
    """Bid `bid` DAI for the whole lot: more than the last bid, at most tab, and at least beg x the
    last bid unless it is exactly tab."""
    open_for_bids(a, now)
    if lot != a.lot:
        raise FlipRevert("Flipper/lot-not-matching")
    if bid > a.tab:
        raise FlipRevert("Flipper/higher-than-tab")
    if not bid > a.bid:
        raise FlipRevert("Flipper/bid-not-higher")
    if not (bid * one >= beg * a.bid or bid == a.tab):
        raise FlipRevert("Flipper/insufficient-increase")
    return replace(a, guy=guy, bid=bid, tic=now + ttl)


def dent(a: Auction, now, guy: str, lot, bid, beg, ttl, one=1.0) -> Auction:
    """Once the bid is tab: take less collateral for it, at most lot / beg; the rest goes back to the
    vault owner (the returned amount is a.lot - result.lot)."""
    open_for_bids(a, now)
    if bid != a.bid:
        raise FlipRevert("Flipper/not-matching-bid")
    if bid != a.tab:
        raise FlipRevert("Flipper/tend-not-finished")
    if not lot < a.lot:
        raise FlipRevert("Flipper/lot-not-lower")
    if not beg * lot <= a.lot * one:
        raise FlipRevert("Flipper/insufficient-decrease")
    return replace(a, guy=guy, lot=lot, tic=now + ttl)


def dealable(a: Auction, now) -> bool:
    """Flipper.deal's condition: a bid was made and its ttl, or the auction's end, has passed."""
    return a.tic != 0 and (a.tic < now or a.end < now)


def deal(a: Auction, now) -> Auction:
    """The lot goes to the high bidder; the Vow keeps the bid. Returns the settled auction."""
    if not dealable(a, now):
        raise FlipRevert("Flipper/not-finished")
    return a


def tick(a: Auction, now, tau) -> Auction:
    """Restart an auction that ended without a bid: a new end at now + tau."""
    if not a.end < now:
        raise FlipRevert("Flipper/not-finished")
    if a.tic != 0:
        raise FlipRevert("Flipper/bid-already-placed")
    return replace(a, end=now + tau)


def loss(a: Auction) -> float:
    """The Vow's loss on a dealt auction: the debt (Sin) its bid did not cover; 0 when the bid covered
    the debt (the rest of the bid, up to tab, is the penalty, surplus to the Vow)."""
    return max(a.due - a.bid, 0.0)


# ----------------------------------------------------------------------------- bidding arithmetic

def min_next_bid(a: Auction, beg, tiny) -> float:
    """The smallest tend the contract accepts: beg x bid (capped at tab, which is always allowed), or
    `tiny` (the smallest positive amount) on an auction without bids."""
    if a.bid <= 0:
        return min(tiny, a.tab)
    return min(beg * a.bid, a.tab)


def max_next_lot(a: Auction, beg) -> float:
    """The largest lot a dent may ask for: lot / beg, one ulp less where rounding would put beg x it above
    the lot (the contract's `beg * lot <= last lot` must hold)."""
    most = a.lot / beg
    return math.nextafter(most, 0.0) if beg * most > a.lot else most
