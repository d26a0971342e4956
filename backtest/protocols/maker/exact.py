"""Maker Liquidations 2.0 in the contracts' own integers (makerdao/dss): the exact twins of clip.py's float
maths, which tests/protocols/test_maker_clip.py holds them to. Units: wad 1e18, ray 1e27, rad 1e45.

Sources: src/dog.sol (bark), src/clip.sol (getFeedPrice, kick, redo, take, status),
src/abaci.sol (LinearDecrease, StairstepExponentialDecrease, ExponentialDecrease, rpow).
"""

from __future__ import annotations

WAD, RAY, RAD = 10**18, 10**27, 10**45
BLN = 10**9


def rmul(x: int, y: int) -> int:
    return x * y // RAY


def wmul(x: int, y: int) -> int:
    return x * y // WAD


def rdiv(x: int, y: int) -> int:
    return x * RAY // y


def rpow(x: int, n: int, b: int) -> int:
    """abaci.sol rpow: square-and-multiply in base b, rounding half up at every step."""
    if n == 0:
        return b
    if x == 0:
        return 0
    z = x if n % 2 else b
    half = b // 2
    n //= 2
    while n:
        x = (x * x + half) // b
        if n % 2:
            z = (z * x + half) // b
        n //= 2
    return z


def bark_exact(ink: int, art: int, rate: int, spot: int, dust: int, chop: int,
               Hole: int, Dirt: int, hole: int, dirt: int) -> tuple[int, int, int, int]:
    """(dart, dink, due, tab) as Dog.bark, or ValueError with the revert reason."""
    if not (spot > 0 and ink * spot < art * rate):
        raise ValueError("Dog/not-unsafe")
    if not (Hole > Dirt and hole > dirt):
        raise ValueError("Dog/liquidation-limit-hit")
    room = min(Hole - Dirt, hole - dirt)
    dart = min(art, room * WAD // rate // chop)
    if art > dart:
        if (art - dart) * rate < dust:
            dart = art
        elif dart * rate < dust:
            raise ValueError("Dog/dusty-auction-from-partial-liquidation")
    dink = ink * dart // art
    if dink == 0:
        raise ValueError("Dog/null-auction")
    due = dart * rate
    return dart, dink, due, due * chop // WAD


def feed_price_exact(val_wad: int, par_ray: int = RAY) -> int:
    """Clipper.getFeedPrice: the OSM's wad price, divided by par, as a ray."""
    return rdiv(val_wad * BLN, par_ray)


def kick_exact(tab: int, feed_price: int, buf: int, tip: int, chip: int) -> tuple[int, int]:
    """(top ray, coin rad)."""
    top = rmul(feed_price, buf)
    coin = tip + wmul(tab, chip) if (tip > 0 or chip > 0) else 0
    return top, coin


def linear_decrease_exact(top: int, dur: int, tau: int) -> int:
    return 0 if dur >= tau else rmul(top, (tau - dur) * RAY // tau)


def stairstep_exponential_decrease_exact(top: int, dur: int, cut: int, step: int) -> int:
    return rmul(top, rpow(cut, dur // step, RAY))


def exponential_decrease_exact(top: int, dur: int, cut: int) -> int:
    return rmul(top, rpow(cut, dur, RAY))


def status_exact(price: int, top: int, dur: int, tail: int, cusp: int) -> bool:
    """Clipper.status `done` for a price already computed by the curve."""
    return dur > tail or rdiv(price, top) < cusp


def redo_coin_exact(tab: int, lot: int, feed_price: int, tip: int, chip: int, chost_: int) -> int:
    if (tip > 0 or chip > 0) and tab >= chost_ and lot * feed_price >= chost_:
        return tip + wmul(tab, chip)
    return 0


def take_exact(tab: int, lot: int, price: int, amt: int, max_price: int, chost_: int) -> tuple[int, int, int, int]:
    """(slice wad, owe rad, tab rad, lot wad) after Clipper.take, or ValueError."""
    if max_price < price:
        raise ValueError("Clipper/too-expensive")
    slice_ = min(lot, amt)
    owe = slice_ * price
    if owe > tab:
        owe = tab
        slice_ = owe // price
    elif owe < tab and slice_ < lot and tab - owe < chost_:
        if tab <= chost_:
            raise ValueError("Clipper/no-partial-purchase")
        owe = tab - chost_
        slice_ = owe // price
    return slice_, owe, tab - owe, lot - slice_
