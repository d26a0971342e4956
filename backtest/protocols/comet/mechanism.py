"""Comet (Compound v3) in the replay: absorb, then buyCollateral out of the protocol's inventory.

An account is absorbable when Σ collateral x price x liquidateCollateralFactor < its base debt
(the markets table's `liquidation_threshold` of a comet row). `absorb` pays nothing by itself (the
absorber earns only liquidatorPoints). By default (`absorb = "always"`) the leanest bot whose latency
has passed absorbs every absorbable account and pays the gas, as Compound's own bot does (compound-
finance/comet scripts/liquidation_bot/liquidateUnderwaterBorrowers.ts calls absorb for every
isLiquidatable account, with no profit check); with `absorb = "when_buying_pays"` a bot absorbs only
when buying that collateral back at the store-front price and selling it into the venues would pay
for the absorb's gas and the purchase's. An absorb needs its gas in the block (agents/competition.py).
All collateral moves to the protocol; the account's debt is erased and it is
credited collateral value x liquidationFactor (`1 - liquidation_bonus` of the comet row); a
surplus becomes the account's base supply (kept here, outside the loan book), a shortfall is
paid by the reserves. Keepers then `buyCollateral` at the store-front price
price x (1 - storeFrontPriceFactor x (1 - liquidationFactor)), only while reserves < targetReserves,
when selling it into the venues pays after gas and the flash-loan fee; a purchase two keepers want
pays the builder its share (agents/competition.py); what nobody buys stays in inventory.

Loss to the reserves (reported as `comet_reserves_loss_usd`, part of bad debt):
max(0, (Σ basePaidOut - Σ buyCollateral baseAmount) x base price - inventory x oracle prices).

Sources: compound-finance/comet contracts/Comet.sol (absorbInternal, buyCollateral, quoteCollateral,
getReserves); parameters of cUSDCv3 at launch: deployments/mainnet/usdc/configuration.json.
The maths is backtest/protocols/comet/exact.py.
"""

from __future__ import annotations

import numpy as np

from backtest.agents.liquidator import Plan, best_agent
from backtest.agents.round import Round
from backtest.protocols.comet import exact as comet_math
from backtest.protocols.comet.params import CometParams
from backtest.protocols.shared import cannot_beat, first_ready, latency_ends, none_can_clear, own_reserves


class Comet:
    kind = "absorb"

    def __init__(self, rows, inputs, config, state, venues, rec, field):
        book = inputs.book
        self.rows, self.book, self.state = rows, book, state       # state: backtest.engine.state.BookState
        self.venues, self.rec, self.field, self.agents = venues, rec, field, field.agents
        self.p = CometParams.from_spec(config.scenario_spec, config.scenario)
        self.base, self.collateral_cols = own_reserves(
            book, state.debt, rows, "comet", "comet accounts borrow {}: one Comet market (one base asset) per book")
        self._cols = np.array(self.collateral_cols, dtype=np.int64)     # for gathers (a list would be copied into one each time)
        self.inventory = np.zeros(len(book.assets))     # [R] units the protocol holds
        self.arrived = np.zeros(len(book.assets))       # when each asset's inventory last grew (seconds)
        self.reserves = self.p.reserves
        self.paid_out = 0.0                             # Σ basePaidOut, base units
        self.bought = 0.0                               # Σ buyCollateral baseAmount, base units
        self.credited = 0.0                             # Σ surplus credited to absorbed accounts, base units
        self.absorbs = self.purchases = 0

    @property
    def busy(self) -> bool:
        return self.base is not None and bool(self.inventory.any()) and self.reserves < self.p.target_reserves

    def wake(self, now: float, block: float) -> float:
        """When a keeper's latency next runs out on an inventory for sale (it waits from the last absorb
        that grew it)."""
        if not self.busy:
            return np.inf
        return min((latency_ends(self.agents, float(self.arrived[c]), now, block)
                    for c in self.collateral_cols if self.inventory[c] > 0), default=np.inf)

    def liquidate(self, r: Round, rows, hf, rounds, waited) -> int:
        """Absorb the rows (worst first) that someone absorbs; how many."""
        if self.base is None:
            return 0
        changed, state = 0, self.state
        step, now, price, params, gas_usd_per_unit = r.step, r.now, r.price, r.params, r.gas_usd_per_unit
        b, cols, at = self.base, self.collateral_cols, self._cols
        lf = 1.0 - params.bonus[at]
        worth = self._worth_a_look(rows, lf, price, gas_usd_per_unit)
        cols_price, inventory, arrived = price[at], self.inventory, self.arrived
        for i, h, rnd, w, look in zip(rows.tolist(), hf.tolist(), rounds.tolist(), waited.tolist(), worth.tolist()):
            if not look:
                continue
            if not self.field.gas.fits(self.p.absorb_gas):
                break                                    # the block is full: the rest wait for the next
            amounts = state.coll[i, at]                   # a copy: an index array gathers
            agent = self._absorber(amounts, lf, price, w, gas_usd_per_unit)
            if agent is None:
                continue
            self.field.gas.spend(self.p.absorb_gas)
            debt = float(state.debt[i, b])
            supplied = float(state.coll[i, b])            # a base supply is netted into the balance
            new, paid = comet_math.absorb_one(supplied - debt, price[b], amounts, cols_price, lf)
            self.reserves -= paid
            self.paid_out += paid
            self.credited += new
            self.absorbs += 1
            for c, a in zip(cols, amounts.tolist()):      # the columns' own sums, not a gather and a scatter
                inventory[c] = inventory.item(c) + a
                if a > 0:
                    arrived[c] = now
            state.absorb(i, at, b)
            changed += 1
            gas = gas_usd_per_unit * self.p.absorb_gas
            values = amounts * cols_price * lf
            taken = [(c, a, v) for c, a, v in zip(cols, amounts.tolist(), values.tolist()) if a > 0]
            if supplied > 0:
                taken.append((b, supplied, supplied * price[b]))
            taken = taken or [(b, 0.0, 0.0)]             # debt with no collateral: erased all the same
            total = sum(v for _, _, v in taken)
            owed = debt                     # the rows' debt_repaid subtract to exactly 0, as the book did
            for k, (c, a, v) in enumerate(taken):
                share = v / total if total > 0 else float(k == 0)
                repaid = owed if k == len(taken) - 1 else debt * share
                owed = 0.0 if repaid >= owed else owed - repaid
                plan = Plan(b, c, repaid, a, 0.0, 0.0, 0.0, gas * share)
                self.rec.liquidation(step, i, plan, price, rnd, 0.0, 0.0, h, float("inf"), 0.0, agent.name,
                                     action="absorb")
                self.rec.event(step, rnd, "comet", "absorb", account=self.book.accounts[i],
                               asset=self.book.assets[c], amount=a, base_amount=paid * share, price=price[c],
                               oracle_price=price[c], inventory=self.inventory[c], reserves=self.reserves,
                               cost_usd=0.0, proceeds_usd=0.0, gas_usd=gas * share, profit_usd=-gas * share,
                               liquidator=agent.name, flash_fee_usd=0.0, builder_usd=0.0)
        return changed

    def _worth_a_look(self, rows, lf, price, gas_usd_per_unit) -> np.ndarray:
        """False where buying the collateral back cannot pay even at the venues' best mid prices with
        no fee or impact (real fills are never better): an exact filter before quoting each account."""
        if self.p.absorb == "always" or not len(rows):
            return np.ones(len(rows), dtype=bool)
        low, high = self.venues.mid_range()
        cols, asset_of, b = self.collateral_cols, self.book.reserve_asset, self.base
        unit = price[cols] * (1.0 - self.p.store_front_price_factor * (1.0 - lf))
        per_unit = np.maximum(high[asset_of[cols]] - unit / price[b] * low[asset_of[b]], 0.0)
        bound = self.state.coll[np.ix_(rows, cols)] @ per_unit
        gas = min(gas_usd_per_unit * (a.gas_units + self.p.absorb_gas) for a in self.agents)
        return (bound > 0) & (bound - gas >= min(a.min_profit_usd for a in self.agents))

    def _absorber(self, amounts, lf, price, waited, gas_usd_per_unit):
        """Who absorbs this account now, if anyone (see the module docstring)."""
        if self.p.absorb == "always":
            return first_ready(self.agents, waited)
        if self.reserves >= self.p.target_reserves:
            return None                                 # NotForSale: nothing to buy back afterwards
        b, asset_of, gross, outlay = self.base, self.book.reserve_asset, 0.0, 0.0
        for c, q, f in zip(self.collateral_cols, amounts.tolist(), lf.tolist()):
            if q <= 0:
                continue
            base_amount = q * price[c] * (1.0 - self.p.store_front_price_factor * (1.0 - f)) / price[b]
            cost = self.venues.buy_quote(asset_of[b], base_amount)
            gain = self.venues.sell_quote(asset_of[c], q) - cost
            if gain > 0:
                gross, outlay = gross + gain, outlay + cost
        if gross <= 0:
            return None
        chosen = best_agent(self.agents, gross, outlay, waited, gas_usd_per_unit, extra_gas_units=self.p.absorb_gas)
        return chosen[0] if chosen else None

    def trade(self, r: Round) -> int:
        """At most one buyCollateral per asset per round, the size that pays best, if any pays."""
        step, now, rnd, price, params, gas_usd_per_unit = r.step, r.now, r.block, r.price, r.params, r.gas_usd_per_unit
        if self.base is None:
            return 0
        b, asset_of, done = self.base, self.book.reserve_asset, 0
        inventory, pb, sff = self.inventory, price.item(b), self.p.store_front_price_factor
        for c in self.collateral_cols:
            held = inventory.item(c)                # plain floats below: the same products and quotients
            if held <= 0:
                continue
            if self.reserves >= self.p.target_reserves:
                break                                                   # NotForSale
            waited = (now - self.arrived.item(c)) / r.block_seconds     # Python floats, as Field.bar and award
            bar = self.field.bar(waited, gas_usd_per_unit)              # and none_can_clear are written for
            if bar == np.inf:
                continue                          # no keeper ready, or the block is full: award refuses any
            pc, lf = price.item(c), 1.0 - params.bonus.item(c)
            unit = pc * (1.0 - sff * (1.0 - lf))                        # quoteCollateral
            sizes = []
            for size in self.agents[0].sizes:
                want = held * size
                base_amount = want * unit / pb if pb != 0.0 else float(np.float64(want * unit) / np.float64(pb))
                got = min(comet_math.quote_collateral_one(base_amount, pb, pc, lf, sff), held)
                sizes.append((size, base_amount, got))
            floor, ceiling = self.venues.ceilings()[2:]
            if none_can_clear([(got, base_amount) for _, base_amount, got in sizes], ceiling[asset_of[c]],
                              floor[asset_of[b]], bar):
                continue                          # no purchase's ceiling reaches what the cheapest keeper needs
            best, sale_ceiling, purchase_floor = None, ceiling[asset_of[c]], floor[asset_of[b]]
            for size, base_amount, got in sizes:
                if best is not None and cannot_beat(got, base_amount, sale_ceiling, purchase_floor, best[0]):
                    continue          # its ceiling cannot beat the best size quoted: never chosen (an exact filter)
                cost = self.venues.buy_quote(asset_of[b], base_amount)
                proceeds = self.venues.sell_quote(asset_of[c], got)
                if best is None or proceeds - cost > best[0]:
                    best = (proceeds - cost, size, base_amount, got, cost)
            award = self.field.award(best[0], best[4], waited, gas_usd_per_unit)
            if not award:
                continue
            self.field.gas.spend(award.gas_units)
            gas, fee = award.gas_usd, award.flash_fee_usd
            _, size, base_amount, got, _ = best
            cost = self.venues.buy(asset_of[b], base_amount)
            proceeds = self.venues.sell(asset_of[c], got)
            builder = award.builder_usd(proceeds, cost)
            self.inventory[c] = 0.0 if size >= 1.0 else self.inventory[c] - got
            self.reserves += base_amount
            self.bought += base_amount
            self.purchases += 1
            done += 1
            self.rec.event(step, rnd, "comet", "buyCollateral", asset=self.book.assets[c], amount=got,
                           base_amount=base_amount, price=unit, oracle_price=price[c], inventory=self.inventory[c],
                           reserves=self.reserves, cost_usd=cost, proceeds_usd=proceeds, gas_usd=gas,
                           profit_usd=proceeds - cost - gas - fee - builder, liquidator=award.name,
                           flash_fee_usd=fee, builder_usd=builder)
        return done

    def loss(self, p: np.ndarray) -> float:
        """At these oracle prices, one per reserve column."""
        if self.base is None or not self.absorbs:
            return 0.0
        return max(0.0, (self.paid_out - self.bought) * p[self.base] - float(self.inventory @ p))

    def summary(self, p: np.ndarray) -> dict:
        return {"comet_absorbs": self.absorbs, "comet_buy_collateral": self.purchases,
                "comet_base_paid_out_usd": self.paid_out * (p[self.base] if self.base is not None else 0.0),
                "comet_buy_collateral_usd": self.bought * (p[self.base] if self.base is not None else 0.0),
                "comet_inventory_usd": float(self.inventory @ p), "comet_reserves": self.reserves,
                "comet_reserves_loss_usd": self.loss(p)}
