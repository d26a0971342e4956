"""Maker Liquidations 2.0 in the replay: the Dog barks unsafe vaults into Clipper auctions, keepers take.

A vault is unsafe when ink x price / mat < art x rate (the markets table's `liquidation_threshold`
of a maker row is 1/mat, its `liquidation_bonus` chop - 1; the book's DAI debt is art x rate). A
keeper barks it when the reward tip + chip x tab (paid by the protocol) covers its gas: up to the
ilk's and the global room (hole, Hole) of tab, the whole vault when the rest would be dusty. The
auction starts at top = price x buf and falls along the ilk's curve (stairstep cut every step
seconds, or linear over tau); a keeper takes when the auction price is below what selling the
collateral into the venues pays after gas, at the size that pays best (a take leaves 0 or at least
chost = dust x chop of tab). An auction older than tail or cheaper than cusp x top must be reset
(redo, paid like a bark) before anyone can take. When the tab is raised, the collateral left goes
back to the vault owner; when the lot is gone first, the tab left is not covered. Barks, redos and
takes go through the run's liquidators (agents/competition.py): each needs its gas in the block,
and a job two keepers want pays the builder its share of the reward or profit.

Bad debt (`maker_vow_loss_usd`): the Vow's Sin (each auction's `due`, the vault's debt) its take did
not raise: for auctions whose lot is gone max(0, tab left - penalty), for auctions still open
max(0, tab left - penalty - lot left x oracle price), the penalty being tab - due at the bark (chop's
share, revenue that did not come, not a loss). `maker_uncovered_tab_usd` is the tab itself left
unraised, penalty included. Keeper rewards are reported apart (`maker_keeper_rewards_usd`), not in bad debt. DAI is worth par (1 USD) in the protocol's
own arithmetic; keepers buy it at the venues.

Each ilk is a collateral column of its own (backtest/inputs/book.py: ETH-A, ETH-B and ETH-C all hold
WETH, with their own mat, chop, Clipper, hole and dirt); one vault (one ilk) per account.

Sources: makerdao/dss src/dog.sol (bark, digs), src/clip.sol (kick, take, redo, status),
src/abaci.sol (price curves). Parameters: `ILKS` in params.py, with the spell configuration they come from.
The maths is backtest/protocols/maker/clip.py.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from backtest.agents.liquidator import Plan
from backtest.agents.round import Round
from backtest.errors import InputError
from backtest.protocols.rules import health_factor_row
from backtest.protocols.maker import clip
from backtest.protocols.maker.floors import Floors
from backtest.protocols.maker.params import Ilk, MakerParams, ilk_name
from backtest.protocols.shared import after, cannot_beat, none_can_clear, own_reserves


@dataclass(eq=False)       # one object per bark: `auctions.remove` finds it by identity, not field by field
class Auction:
    id: int
    row: int            # the vault's row in the book
    coll: int           # its collateral reserve
    tab: float          # DAI still to raise
    lot: float          # collateral still for sale
    top: float          # starting price, DAI per unit
    tic: float          # start (or last redo), seconds
    penalty: float = 0.0  # tab - due at the bark: the part of the tab that is chop, not the Vow's Sin


class Maker:
    kind = "auction"

    def __init__(self, rows, inputs, config, state, venues, rec, field):
        book = inputs.book
        self.rows, self.book, self.state = rows, book, state       # state: backtest.engine.state.BookState
        self.venues, self.rec, self.field, self.agents = venues, rec, field, field.agents
        coll = state.coll
        self.dai, self.collateral_cols = own_reserves(
            book, state.debt, rows, "maker", "maker vaults owe {}: Maker debt is one asset (DAI)")
        held = (coll[np.ix_(rows, self.collateral_cols)] > 0).sum(axis=1) if self.collateral_cols else np.zeros(0)
        if (held > 1).any():
            raise InputError(f"maker account {book.accounts[rows[np.flatnonzero(held > 1)[0]]]} holds more than one "
                             "collateral asset or ilk: one vault (one ilk) per account", column="account")
        names = book.reserve_ilk if book.reserve_ilk is not None else [""] * len(book.assets)
        reserves = [(book.assets[c], names[c] or ilk_name(book.assets[c], "", False)) for c in self.collateral_cols]
        self.ilk_names = {c: name for c, (_, name) in zip(self.collateral_cols, reserves)}
        self.p, ilks = MakerParams.from_spec(config.scenario_spec, reserves, config.scenario, strict=True)
        self.ilks = dict(zip(self.collateral_cols, ilks))          # one collateral column per ilk
        self._asset = {c: int(book.reserve_asset[c]) for c in [*self.collateral_cols, self.dai] if c is not None}
        self.dirt = {c: 0.0 for c in self.collateral_cols}       # tab in auctions per ilk (Dog ilk.dirt)
        self.floors = Floors(self.ilks)                          # the ilks whose auctions trade's mid filter skips
        self.auctions: list[Auction] = []                        # open, by id
        self.closed_uncovered = 0.0                              # DAI of tab left when a lot ran out
        self.closed_loss = 0.0                                   # DAI of due (Sin) left when a lot ran out
        self.rewards = 0.0                                       # DAI paid to keepers (tip + chip x tab)
        self.returned = 0.0                                      # USD of collateral given back to owners
        self.barks = self.takes = self.redos = 0                  # a bark's count is its auction id

    @property
    def busy(self) -> bool:
        return bool(self.auctions)

    def wake(self, now: float, block: float) -> float:
        """When an open auction next changes for a keeper: its price's next cut (every second for the
        linear and exponential curves: the next block), its age passing tail (a redo is due), a keeper's
        latency running out on it. min()'s own comparisons (`x < t`) one by one, and after(x) asked only
        where x < t (after(x) >= x): the minimum of them all, bit for bit (engine_mechanisms/test_maker_wake.py)."""
        t = math.inf
        ilks, latencies = self.ilks, self._latencies()
        longest = latencies[-1] * block if latencies and block >= 0 else math.inf     # the last end: tic + longest
        if longest != longest:
            longest = math.inf                  # inf x 0: the ends are not in order, ask them all
        for a in self.auctions:
            ilk, tic = ilks[a.coll], a.tic
            dur = now - tic
            if ilk.curve == "stairstep":
                cut = tic + (dur // ilk.step + 1) * ilk.step
            else:
                cut = after(now)
            if cut < t:
                t = cut
            if not dur > ilk.tail:
                tail = tic + ilk.tail
                if tail < t:
                    tail = after(tail)
                    if tail < t:
                        t = tail
            if not tic + longest > now:
                continue                        # every keeper's latency has run out on it (the ends ascend)
            for latency in latencies:           # shared.latency_ends: the first of the ascending ends past now
                end = tic + latency * block
                if end > now:
                    if end < t:
                        t = end
                    break
        return t

    def _latencies(self) -> list:
        """The agents' latencies (blocks), ascending, NaN left out: tic + latency x block grows with the
        latency (block >= 0), so the first end past `now` in this order is latency_ends' minimum."""
        kept = self.__dict__.get("_kept_latencies")
        if kept is None or kept[0] is not self.agents:
            lat = sorted(float(a.latency_blocks) for a in self.agents if a.latency_blocks == a.latency_blocks)
            kept = self._kept_latencies = (self.agents, lat)
        return kept[1]

    def _ilk(self, c: int) -> Ilk:
        return self.ilks[c]

    def liquidate(self, r: Round, rows, hf, rounds, waited) -> int:
        """Bark the rows (worst first) that a keeper barks; how many."""
        if self.dai is None:
            return 0
        changed, d, state = 0, self.dai, self.state
        step, now, price, lt, params, gas_usd_per_unit = r.step, r.now, r.price, r.lt, r.params, r.gas_usd_per_unit
        for i, h, rnd, w in zip(rows.tolist(), hf.tolist(), rounds.tolist(), waited.tolist()):
            c = None
            for k in self.collateral_cols:                        # the first held (no generator a row)
                if state.coll.item(i, k) > 0:
                    c = k
                    break
            if c is None or state.debt.item(i, d) <= 0:
                continue
            ilk, chop = self._ilk(c), 1.0 + params.bonus.item(c)
            room = clip.room_one(self.p.Hole, sum(self.dirt.values()), ilk.hole, self.dirt[c])
            bark = clip.bark_one(state.coll.item(i, c), state.debt.item(i, d), 1.0, chop, ilk.dust, room)
            if not bark.allowed:
                continue                                          # limit hit or a dusty partial: wait
            tab, lot = bark.tab, bark.dink
            top, coin = clip.kick_one(tab, price.item(c), ilk.buf, ilk.tip, ilk.chip)
            paid = coin * price.item(d)                           # the reward in USD (a float: the same product)
            award = self.field.award(paid, 0.0, w, gas_usd_per_unit, self.p.bark_gas)
            if not award:
                continue                                          # nobody for the reward, or the block is full
            self.field.gas.spend(award.gas_units)
            gas, agent, builder = award.gas_usd, award.agent, award.builder_usd(paid, 0.0)
            due = float(bark.due)
            state.grab(i, c, lot, d, due)
            self.dirt[c] += tab
            self.rewards += coin
            self.barks += 1
            self.auctions.append(Auction(self.barks, i, c, tab, lot, top, now, tab - due))
            self.floors.add(self.auctions[-1])
            changed += 1
            hf_after = health_factor_row(state.coll[i], state.debt[i], price, lt, False)      # the vault as grabbed
            plan = Plan(d, c, due, lot, 0.0, 0.0, paid, gas, 0.0, builder)
            self.rec.liquidation(step, i, plan, price, rnd, 0.0, paid, h, hf_after, 0.0, agent.name,
                                 action="bark")
            self.rec.event(step, rnd, "maker", "bark", auction=self.barks, account=self.book.accounts[i],
                           asset=self.book.assets[c], amount=lot, base_amount=tab, price=top, oracle_price=price[c],
                           tab=tab, lot=lot, reward_usd=paid, cost_usd=0.0, proceeds_usd=0.0,
                           gas_usd=gas, profit_usd=paid - gas - builder, liquidator=agent.name,
                           flash_fee_usd=0.0, builder_usd=builder)
        return changed

    def trade(self, r: Round) -> int:
        """Each open auction, by id: a redo if it needs one, else the best take if one pays."""
        step, now, rnd, price, params, gas_usd_per_unit = r.step, r.now, r.block, r.price, r.params, r.gas_usd_per_unit
        done, d = 0, self.dai
        if not self.auctions:
            return 0
        # the take filter's two mids as plain floats (the same comparison and product as numpy's scalars),
        # the highest per collateral column, the lowest of DAI: mid_range's values of those assets only
        mid, assets = self.venues.mid_of, self._asset
        high_of, low_d, ilks = {c: mid(assets[c])[1] for c in self.collateral_cols}, mid(assets[d])[0], self.ilks
        skipped = self.floors.skipped(now, self.auctions, high_of, low_d)     # what the mid filter skips, by ilk
        for a in list(self.auctions):
            c = a.coll
            if c in skipped:
                continue              # every auction of the ilk dearer than the best venue's mid (floors.py)
            ilk = ilks[c]
            dur = now - a.tic
            unit = ilk.price(a.top, dur)
            if clip.needs_redo_one(dur, unit, a.top, ilk.tail, ilk.cusp):
                account = self.book.accounts[a.row]
                chost = ilk.dust * (1.0 + params.bonus[c])
                coin = float(clip.redo_coin(a.tab, a.lot, price[c], ilk.tip, ilk.chip, chost))
                paid = coin * price.item(d)
                award = self.field.award(paid, 0.0, np.inf, gas_usd_per_unit, self.p.redo_gas)
                if award:
                    self.field.gas.spend(award.gas_units)
                    gas, agent, builder = award.gas_usd, award.agent, award.builder_usd(paid, 0.0)
                    a.top, a.tic = price.item(c) * ilk.buf, now       # a float, as kick_one's: ilk.price, take_one
                    self.floors.end(c)
                    self.rewards += coin
                    self.redos += 1
                    done += 1
                    self.rec.event(step, rnd, "maker", "redo", auction=a.id, account=account,
                                   asset=self.book.assets[c], amount=a.lot, base_amount=a.tab, price=a.top,
                                   oracle_price=price[c], tab=a.tab, lot=a.lot, reward_usd=paid,
                                   cost_usd=0.0, proceeds_usd=0.0, gas_usd=gas,
                                   profit_usd=paid - gas - builder, liquidator=agent.name,
                                   flash_fee_usd=0.0, builder_usd=builder)
                continue
            if high_of[c] <= unit * low_d:
                continue              # dearer than the best venue's mid: no take can pay (an exact filter)
            waited = dur / r.block_seconds
            bar = self.field.bar(waited, gas_usd_per_unit)
            if bar == np.inf:
                continue              # no keeper ready, or the block is full: award would refuse any take
            chost = ilk.dust * (1.0 + params.bonus.item(c))           # a plain float: take_one's sums in floats
            floor, ceiling = self.venues.ceilings()[2:]
            sold, bought = self._asset[c], self._asset[d]
            sale_ceiling, purchase_floor = ceiling[sold], floor[bought]
            if clip.no_take_clears(a.tab, a.lot, unit, chost, sale_ceiling, purchase_floor, bar):
                continue              # none_can_clear below would say so of every size: no Take built
            takes = [t for t in (clip.take_one(a.tab, a.lot, unit, a.lot * size, unit, chost)
                                 for size in self.agents[0].sizes) if t.allowed and t.slice > 0]
            if none_can_clear([(t.slice, t.owe) for t in takes], sale_ceiling, purchase_floor, bar):
                continue              # no take's ceiling reaches what the cheapest ready keeper needs
            best = None
            for t in takes:
                if best is not None and cannot_beat(t.slice, t.owe, sale_ceiling, purchase_floor, best[0]):
                    continue          # its ceiling cannot beat the best take quoted: never chosen (an exact filter)
                cost = self.venues.buy_quote(bought, float(t.owe))
                proceeds = self.venues.sell_quote(sold, float(t.slice))
                if best is None or proceeds - cost > best[0]:
                    best = (proceeds - cost, t, cost)
            award = best and self.field.award(best[0], best[2], waited, gas_usd_per_unit)
            if not award:
                continue
            self.field.gas.spend(award.gas_units)
            agent, gas, fee = award.agent, award.gas_usd, award.flash_fee_usd
            t, account = best[1], self.book.accounts[a.row]
            cost = self.venues.buy(bought, float(t.owe))
            proceeds = self.venues.sell(sold, float(t.slice))
            builder = award.builder_usd(proceeds, cost)
            a.tab, a.lot = float(t.tab), float(t.lot)
            self.dirt[c] -= float(t.owe)                          # Dog.digs(owe)
            self.takes += 1
            done += 1
            returned = 0.0
            if a.tab <= 0 or a.lot <= 0:                          # finished: Clipper sends the rest to the owner
                returned = a.lot if a.tab <= 0 else 0.0
                self.returned += returned * price[c]
                self.closed_uncovered += a.tab if a.lot <= 0 else 0.0
                self.closed_loss += max(a.tab - a.penalty, 0.0) if a.lot <= 0 else 0.0
                self.dirt[c] -= a.tab if a.lot <= 0 else 0.0      # Dog.digs(tab + owe) when the lot is gone
                self.auctions.remove(a)
            self.rec.event(step, rnd, "maker", "take", auction=a.id, account=account, asset=self.book.assets[c],
                           amount=float(t.slice), base_amount=float(t.owe), price=unit, oracle_price=price[c],
                           tab=a.tab, lot=0.0 if returned else a.lot, returned=returned, cost_usd=cost,
                           proceeds_usd=proceeds, gas_usd=gas, profit_usd=proceeds - cost - gas - fee - builder,
                           liquidator=agent.name, flash_fee_usd=fee, builder_usd=builder)
        return done

    def _open(self, p: np.ndarray) -> tuple[float, float, float, float]:
        """(uncovered tab USD, tab USD, lot USD, Vow's loss USD) of the auctions still open, at these oracle
        prices (per column)."""
        pd = p[self.dai] if self.dai is not None else 1.0
        tab = np.array([a.tab * pd for a in self.auctions])
        penalty = np.array([a.penalty * pd for a in self.auctions])
        lot = np.array([a.lot * p[a.coll] for a in self.auctions])
        return (float(np.maximum(tab - lot, 0.0).sum()), float(tab.sum()), float(lot.sum()),
                float(np.maximum(tab - penalty - lot, 0.0).sum()))

    def loss(self, oracle: np.ndarray) -> float:
        """The Vow's loss: Sin the auctions did not raise (the penalty is not a loss)."""
        if not self.barks:
            return 0.0
        return self.closed_loss * oracle[self.dai] + self._open(oracle)[3]

    def summary(self, oracle: np.ndarray) -> dict:
        pd = oracle[self.dai] if self.dai is not None else 1.0
        uncovered, open_tab, open_lot, _ = self._open(oracle)
        return {"maker_barks": self.barks, "maker_takes": self.takes, "maker_redos": self.redos,
                "maker_auctions_open": len(self.auctions), "maker_open_tab_usd": open_tab,
                "maker_lot_left_usd": open_lot, "maker_keeper_rewards_usd": self.rewards * pd,
                "maker_collateral_returned_usd": self.returned, "maker_uncovered_tab_usd": self.closed_uncovered * pd + uncovered,
                "maker_vow_loss_usd": self.loss(oracle)}
