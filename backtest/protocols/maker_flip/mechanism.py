"""Maker Liquidations 1.x in the replay: the Cat bites unsafe vaults into Flipper auctions, keepers tend,
dent and deal, and a keeper whose transaction is not mined does nothing.

A keeper acts only when the step's gas price is at most its own ceiling (`keeper_gwei`,
`zero_bidder_gwei`): above it its transactions are not mined (the March 2020 reference keepers had no
strategy for a gas spike). The ceilings cannot be observed: by default the reference keepers' are spread
over the day's gas (params.py), each keeper bidding on its own share of the auctions (round-robin by
auction id), so the share priced out moves with the gas. Two kinds bid. Reference keepers value the lot at what selling it into the
venues pays (less their discount and the gas of a tend and a deal), in DAI bought at the venues, and
bid that value (capped at tab) when it beats the least the Flipper accepts; once the bid is tab they
dent down to the smallest lot whose sale still pays the tab. Zero bidders bid the least the Flipper
accepts (1 wei first, then beg x the last bid) while that stays within the same value. With the
reference keepers priced out by gas, an auction goes to a zero bidder at ~0 DAI when its ttl runs out:
the Vow keeps the debt (Sin) and records the loss `due - bid` (flip.loss). One tend or dent per auction
per block; the winner deals (buys the bid's DAI and sells the lot at the venues then) once the ttl or
the auction's end has passed; an auction nobody bid on is ticked after its end.

Each vault is one ilk (one collateral column), as for the Clipper (backtest/protocols/maker/mechanism.py);
the Cat bites again and again in the same block until the vault is empty (a partial bite leaves its
collateral ratio unchanged, so it stays unsafe). Sources and parameters: flip.py, params.py.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from backtest.agents.liquidator import Plan
from backtest.agents.round import Round
from backtest.protocols.maker.params import MakerParams, ilk_name
from backtest.protocols.maker_flip import flip
from backtest.protocols.maker_flip.params import FlipIlk, FlipParams, uses_flip
from backtest.protocols.rules import health_factor_row
from backtest.protocols.shared import after, own_reserves

ZERO_BID_DAI = 1.0        # a winning bid below 1 DAI counts as a zero bid (the "0 DAI" auctions)


@dataclass(frozen=True)
class Keeper:
    name: str
    gwei: float           # highest gas price at which its transactions are mined
    least: bool           # bids the least the Flipper accepts (a zero bidder), else its value
    discount: float


@dataclass
class Open:
    """An auction and where it sits in the book."""
    a: flip.Auction
    row: int
    coll: int


def ilk_names(book, cols) -> dict[int, str]:
    names = book.reserve_ilk if book.reserve_ilk is not None else [""] * len(book.assets)
    return {c: names[c] or ilk_name(book.assets[c], "", False) for c in cols}


def flip_rows(inputs, config, coll: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """[len(rows)] bool: the Maker vaults that liquidate through Cat/Flip, by `maker.liquidations` and
    the path's first date against each vault's ilk's switch to Dog/Clipper."""
    book = inputs.book
    mode = MakerParams.from_spec(config.scenario_spec, [], config.scenario)[0].liquidations
    cols = [j for j, p in enumerate(book.reserve_protocol) if p == "maker"]
    names = ilk_names(book, cols)
    date = inputs.times[0] if len(inputs.times) else np.datetime64("now")
    by_col = np.array([uses_flip(names[c], date, mode) for c in cols], dtype=bool)
    return first_held(coll, rows, cols, by_col)


def first_held(coll: np.ndarray, rows: np.ndarray, cols: list, by_col: np.ndarray) -> np.ndarray:
    """[len(rows)] bool: `by_col` of each row's first column of `cols` it holds (> 0), False if none; one
    gather over the rows rather than a Python pass per row (~2,000 vaults each replay)."""
    if not cols or not len(rows):
        return np.zeros(len(rows), dtype=bool)
    held = coll[np.ix_(rows, cols)] > 0
    return held.any(axis=1) & by_col[held.argmax(axis=1)]


class MakerFlip:
    kind = "auction"

    def __init__(self, rows, inputs, config, state, venues, rec, agents):
        book = inputs.book
        self.rows, self.book, self.state, self.venues, self.rec = rows, book, state, venues, rec   # state: BookState
        self.gwei = np.asarray(inputs.gas_gwei, dtype=float)
        self.dai, cols = own_reserves(book, state.debt, rows, "maker",
                                      "maker vaults owe {}: Maker debt is one asset (DAI)")
        self.cols = [c for c in cols if (state.coll[rows, c] > 0).any()]
        names = ilk_names(book, self.cols)
        self.p, ilks = FlipParams.from_spec(config.scenario_spec, [names[c] for c in self.cols], config.scenario,
                                            strict=True)
        self.ilks: dict[int, FlipIlk] = dict(zip(self.cols, ilks))
        p = self.p
        ceilings = p.keeper_gwei if isinstance(p.keeper_gwei, tuple) else (p.keeper_gwei,) * int(p.keepers)
        self.keepers = [Keeper(f"keeper-{k + 1}", g * p.keeper_gwei_scale, False, p.keeper_discount)
                        for k, g in enumerate(ceilings)]
        self.split = isinstance(p.keeper_gwei, tuple)       # a list: each keeper bids on its share of the auctions
        self.keepers += [Keeper(f"zero-bidder-{k + 1}", p.zero_bidder_gwei, True, p.keeper_discount)
                         for k in range(int(p.zero_bidders))]
        self.by_name = {k.name: k for k in self.keepers}
        self.auctions: list[Open] = []
        self.litter = 0.0                                   # Cat 1.2: tab in auctions
        self.loss_dai = 0.0                                 # the Vow's loss on dealt auctions
        self.shortfall_dai = 0.0                            # tab - bid on dealt auctions
        self.returned = 0.0                                 # USD of collateral dented back to owners
        self.zero_bid_lot_usd = 0.0
        self.n = dict(bites=0, tends=0, dents=0, deals=0, ticks=0, zero_bids=0)

    @property
    def busy(self) -> bool:
        return bool(self.auctions)

    def wake(self, now: float, block: float) -> float:
        """When an auction next changes by its clock alone: its high bid's ttl or its end passes (a deal,
        or a tick when nobody bid)."""
        ends = [t for o in self.auctions for t in (o.a.tic, o.a.end) if t != 0 and not t < now]
        return after(min(ends)) if ends else np.inf

    def _mined(self, step: int) -> list[Keeper]:
        return [k for k in self.keepers if k.gwei >= self.gwei[step]]

    def _watches(self, k: Keeper, a: flip.Auction) -> bool:
        """Whether keeper `k` bids on auction `a`: zero bidders bid on all; with a list of ceilings each
        reference keeper on every len(list)-th auction (round-robin by id), else every one bids on all."""
        if k.least or not self.split:
            return True
        return k is self.keepers[(a.id - 1) % len(self.p.keeper_gwei)]

    # ------------------------------------------------------------------------- Cat.bite

    def liquidate(self, r: Round, rows, hf, rounds, waited) -> int:
        """Bite the rows (worst first) until each is empty or a limit is hit; how many rows were bitten."""
        step, now, price, lt, params, gas_usd_per_unit = r.step, r.now, r.price, r.lt, r.params, r.gas_usd_per_unit
        mined = self._mined(step)
        if self.dai is None or not mined:
            return 0                                        # nobody's bite is mined at this gas
        biter, d, changed, state = mined[0], self.dai, 0, self.state
        for i, h, rnd in zip(rows.tolist(), hf.tolist(), rounds.tolist()):
            held = [c for c in self.cols if state.coll[i, c] > 0]
            if not held or state.debt[i, d] <= 0:
                continue
            c = held[0]
            ilk, chop = self.ilks[c], 1.0 + params.bonus[c]
            bitten = False
            while state.coll[i, c] > 0 and state.debt[i, d] > 0:
                room = self.p.box - self.litter
                if ilk.lump == float("inf") and room <= 0:
                    break                                   # Cat 1.2: Cat/liquidation-limit-hit
                b = flip.bite(state.coll[i, c], state.debt[i, d], 1.0, chop, ilk.lump, ilk.dunk, room)
                if b.lot <= 0 or b.art <= 0:
                    break
                if b.lot >= state.coll[i, c] * (1 - 1e-12):   # the whole vault: ink and art to zero
                    state.grab(i, c, state.coll[i, c], d, state.debt[i, d])
                else:
                    state.grab(i, c, b.lot, d, b.due)
                if ilk.lump == float("inf"):
                    self.litter += b.tab
                self.n["bites"] += 1
                o = Open(flip.kick(self.n["bites"], now, b.tab, b.lot, b.due, ilk.tau), i, c)
                self.auctions.append(o)
                gas = gas_usd_per_unit * self.p.bite_gas
                hf_after = health_factor_row(state.coll[i], state.debt[i], price, lt, False)
                self.rec.liquidation(step, i, Plan(d, c, b.due, b.lot, 0.0, 0.0, 0.0, gas), price, rnd, 0.0, 0.0,
                                     h, hf_after, 0.0, biter.name, action="bite")
                self._event(step, rnd, "bite", o, price, keeper=biter.name, gas=gas, base_amount=b.due)
                bitten = True
            changed += bitten
        return changed

    # ------------------------------------------------------------------------- tend, dent, deal, tick

    def trade(self, r: Round) -> int:
        step, now, rnd, price, gas_usd_per_unit = r.step, r.now, r.block, r.price, r.gas_usd_per_unit
        mined = self._mined(step)
        if not mined or not self.auctions:
            return 0
        done = 0
        for o in list(self.auctions):
            a, ilk = o.a, self.ilks[o.coll]
            if flip.dealable(a, now):
                if self.by_name[a.guy].gwei >= self.gwei[step]:
                    self._deal(step, rnd, now, o, price, gas_usd_per_unit)
                    done += 1
                continue
            if a.tic == 0 and a.end < now:
                o.a = flip.tick(a, now, ilk.tau)
                self.n["ticks"] += 1
                self._event(step, rnd, "tick", o, price, keeper=mined[0].name,
                            gas=gas_usd_per_unit * self.p.deal_gas)
                done += 1
                continue
            if not (a.tic > now or a.tic == 0) or not a.end > now:
                continue                                    # over: waits for its winner's deal
            done += self._bid(step, rnd, now, o, ilk, [k for k in mined if k.name != a.guy and self._watches(k, a)],
                              price, gas_usd_per_unit)
        return done

    def _bid(self, step, rnd, now, o: Open, ilk: FlipIlk, bidders, price, gas_usd_per_unit) -> int:
        """The best tend (highest bid) or dent (smallest lot) any mined keeper makes; 1 if one was made."""
        if not bidders:
            return 0
        a, asset_of = o.a, self.book.reserve_asset
        gas = gas_usd_per_unit * (self.p.tend_gas + self.p.deal_gas)
        dai_unit = self.venues.buy_quote(asset_of[self.dai], a.tab) / a.tab if a.tab > 0 else 1.0
        sale = self.venues.sell_quote(asset_of[o.coll], a.lot)
        best = None
        for k in bidders:
            value = (sale * (1.0 - k.discount) - gas) / dai_unit          # DAI the lot is worth to k
            if a.bid < a.tab:
                least = flip.min_next_bid(a, ilk.beg, self.p.tiny)
                if least > value:
                    continue
                bid = least if k.least else min(a.tab, value)
                if best is None or bid > best[1]:
                    best = (k, bid, a.lot)
            else:
                most = flip.max_next_lot(a, ilk.beg)
                lot = most if k.least else self._smallest_lot(o, a.tab * dai_unit, k.discount, gas)
                if lot is None or lot > most or self._worth(o, lot, k.discount, gas) < a.tab * dai_unit:
                    continue
                if best is None or lot < best[2]:
                    best = (k, a.bid, lot)
        if best is None:
            return 0
        k, bid, lot = best
        if a.bid < a.tab:
            o.a = flip.tend(a, now, k.name, a.lot, bid, ilk.beg, ilk.ttl)
            self.n["tends"] += 1
            self._event(step, rnd, "tend", o, price, keeper=k.name, gas=gas_usd_per_unit * self.p.tend_gas)
        else:
            o.a = flip.dent(a, now, k.name, lot, bid, ilk.beg, ilk.ttl)
            back = a.lot - lot
            self.returned += back * price[o.coll]
            self.n["dents"] += 1
            self._event(step, rnd, "dent", o, price, keeper=k.name, gas=gas_usd_per_unit * self.p.tend_gas,
                        returned=back)
        return 1

    def _worth(self, o: Open, lot: float, discount: float, gas: float) -> float:
        return self.venues.sell_quote(self.book.reserve_asset[o.coll], lot) * (1.0 - discount) - gas

    def _smallest_lot(self, o: Open, cost_usd: float, discount: float, gas: float) -> float | None:
        """The least collateral whose sale pays `cost_usd` (bisection on the venues' quote), None if even
        the whole lot does not."""
        lo, hi = 0.0, o.a.lot
        if self._worth(o, hi, discount, gas) < cost_usd:
            return None
        for _ in range(30):
            mid = 0.5 * (lo + hi)
            lo, hi = (mid, hi) if self._worth(o, mid, discount, gas) < cost_usd else (lo, mid)
        return hi

    def _deal(self, step, rnd, now, o: Open, price, gas_usd_per_unit) -> None:
        """The winner buys the bid's DAI, sells the lot at the venues; the Vow books the loss."""
        a, asset_of = flip.deal(o.a, now), self.book.reserve_asset
        cost = self.venues.buy(asset_of[self.dai], a.bid) if a.bid > 0 else 0.0
        proceeds = self.venues.sell(asset_of[o.coll], a.lot) if a.lot > 0 else 0.0
        self.loss_dai += flip.loss(a)
        self.shortfall_dai += a.tab - a.bid
        if self.ilks[o.coll].lump == float("inf"):
            self.litter -= a.tab                            # Cat 1.2: Flipper.deal -> cat.claw(tab)
        if a.bid < ZERO_BID_DAI:
            self.n["zero_bids"] += 1
            self.zero_bid_lot_usd += a.lot * price[o.coll]
        self.n["deals"] += 1
        self.auctions.remove(o)
        gas = gas_usd_per_unit * self.p.deal_gas
        self._event(step, rnd, "deal", o, price, keeper=a.guy, gas=gas, cost=cost, proceeds=proceeds)

    def _event(self, step, rnd, action, o: Open, price, keeper, gas, base_amount=None, cost=0.0,
               proceeds=0.0, returned=0.0) -> None:
        """`base_amount`: the bid (the debt moved to the Vow on a bite); `tab`, `lot`: the auction's."""
        a, c = o.a, o.coll
        self.rec.event(step, rnd, "maker", action, auction=a.id, account=self.book.accounts[o.row],
                       asset=self.book.assets[c], amount=a.lot, base_amount=a.bid if base_amount is None else base_amount,
                       price=a.bid / a.lot if a.lot > 0 else 0.0, oracle_price=price[c], tab=a.tab, lot=a.lot,
                       returned=returned, cost_usd=cost, proceeds_usd=proceeds, gas_usd=gas,
                       profit_usd=proceeds - cost - gas, liquidator=keeper)

    # ------------------------------------------------------------------------- losses

    def _open_loss(self, p: np.ndarray) -> tuple[float, float, float]:
        """(uncovered USD, tab USD, lot USD) of the open auctions: the debt neither the bid nor the lot covers."""
        pd = p[self.dai] if self.dai is not None else 1.0
        due = np.array([o.a.due * pd for o in self.auctions])
        cover = np.array([max(o.a.bid * pd, o.a.lot * p[o.coll]) for o in self.auctions])
        tab = sum(o.a.tab * pd for o in self.auctions)
        lot = sum(o.a.lot * p[o.coll] for o in self.auctions)
        return float(np.maximum(due - cover, 0.0).sum()) if len(due) else 0.0, tab, lot

    def loss(self, oracle: np.ndarray) -> float:
        if not self.n["bites"]:
            return 0.0
        return self.loss_dai * oracle[self.dai] + self._open_loss(oracle)[0]

    def summary(self, oracle: np.ndarray) -> dict:
        pd = oracle[self.dai] if self.dai is not None else 1.0
        _, tab, lot = self._open_loss(oracle)
        n = self.n
        return {"maker_flip_bites": n["bites"], "maker_flip_tends": n["tends"], "maker_flip_dents": n["dents"],
                "maker_flip_deals": n["deals"], "maker_flip_ticks": n["ticks"],
                "maker_flip_zero_bid_auctions": n["zero_bids"], "maker_flip_zero_bid_lot_usd": self.zero_bid_lot_usd,
                "maker_flip_auctions_open": len(self.auctions), "maker_flip_open_tab_usd": tab,
                "maker_flip_lot_left_usd": lot, "maker_flip_tab_shortfall_usd": self.shortfall_dai * pd,
                "maker_flip_collateral_returned_usd": self.returned, "maker_flip_loss_usd": self.loss(oracle)}
