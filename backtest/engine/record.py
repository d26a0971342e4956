"""What a replay leaves behind: one row per liquidation, one row per (step, asset)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from backtest.agents.liquidator import Plan
from backtest.engine.book import ReplayInputs
from backtest.markets.venues import Venues

UTC_TS = pa.timestamp("us", tz="UTC")

LIQUIDATIONS_SCHEMA = pa.schema([
    ("step", pa.int32()), ("timestamp", UTC_TS), ("protocol", pa.string()), ("account", pa.string()),
    ("debt_asset", pa.string()), ("collateral_asset", pa.string()),
    ("debt_repaid", pa.float64()), ("collateral_seized", pa.float64()), ("protocol_fee", pa.float64()),
    ("debt_price", pa.float64()), ("collateral_price", pa.float64()),
    ("debt_repaid_usd", pa.float64()), ("collateral_seized_usd", pa.float64()),
    ("round", pa.int32()), ("liquidator", pa.string()),
    ("cost_usd", pa.float64()), ("proceeds_usd", pa.float64()), ("gas_usd", pa.float64()), ("profit_usd", pa.float64()),
    ("health_factor_before", pa.float64()), ("health_factor_after", pa.float64()),
    ("deficit_usd", pa.float64()),
])

STEPS_SCHEMA = pa.schema([
    ("step", pa.int32()), ("timestamp", UTC_TS), ("asset", pa.string()),
    ("price_exogenous", pa.float64()), ("price_market", pa.float64()), ("price_oracle", pa.float64()),
    ("price_amm", pa.float64()), ("sold", pa.float64()), ("sold_usd", pa.float64()),
    ("liquidations", pa.int32()), ("bad_debt_usd", pa.float64()),
])


@dataclass
class Outcome:
    liquidations: pa.Table
    steps: pa.Table
    collateral: np.ndarray      # [N, R] at the end
    debt: np.ndarray
    oracle: np.ndarray          # [A] final oracle prices, per price asset


def bad_debt_by_account(coll: np.ndarray, debt: np.ndarray, prices: np.ndarray) -> np.ndarray:
    """max(0, debt value - collateral value) per account: what no liquidator can recover."""
    return np.maximum(0.0, debt @ prices - coll @ prices)


class Recorder:
    def __init__(self, inputs: ReplayInputs):
        self.inputs = inputs
        self.rows: dict[str, list] = {f.name: [] for f in LIQUIDATIONS_SCHEMA}
        self.step_rows: dict[str, list] = {f.name: [] for f in STEPS_SCHEMA}
        self._count = np.zeros(len(inputs.book.price_assets), dtype=np.int32)
        self._burned = 0.0          # deficits burned so far (Aave v3.3+): bad debt that left the book

    def liquidation(self, step: int, i: int, plan: Plan, oracle: np.ndarray, rnd: int, cost: float,
                    proceeds: float, hf_before: float, hf_after: float, deficit: float = 0.0,
                    liquidator: str = "profit-seeker") -> None:
        """`oracle` is the price of every reserve at the time of the liquidation."""
        book, d, c = self.inputs.book, plan.debt_asset, plan.collateral_asset
        values = dict(step=step, timestamp=self.inputs.times[step], protocol=book.protocol[i],
                      account=book.accounts[i], debt_asset=book.assets[d], collateral_asset=book.assets[c],
                      debt_repaid=plan.repay, collateral_seized=plan.taken, protocol_fee=plan.fee,
                      debt_price=oracle[d], collateral_price=oracle[c], debt_repaid_usd=plan.repay * oracle[d],
                      collateral_seized_usd=plan.taken * oracle[c], round=rnd, liquidator=liquidator,
                      cost_usd=cost, proceeds_usd=proceeds, gas_usd=plan.gas_usd,
                      profit_usd=proceeds - cost - plan.gas_usd, health_factor_before=hf_before,
                      health_factor_after=hf_after, deficit_usd=deficit)
        for k, v in values.items():
            self.rows[k].append(v)
        self._count[book.reserve_asset[c]] += 1
        self._burned += deficit

    def step(self, step: int, venues: Venues, oracle: np.ndarray, coll: np.ndarray, debt: np.ndarray) -> None:
        assets = self.inputs.book.price_assets
        n = len(assets)
        amm = np.where(venues.pool_of >= 0, venues.price, np.nan)
        bad = float(bad_debt_by_account(coll, debt, oracle[self.inputs.book.reserve_asset]).sum()) + self._burned
        cols = dict(step=[step] * n, timestamp=[self.inputs.times[step]] * n, asset=assets,
                    price_exogenous=self.inputs.exogenous[step], price_market=venues.price.copy(),
                    price_oracle=oracle.copy(), price_amm=amm, sold=venues.sold.copy(),
                    sold_usd=venues.sold * venues.price, liquidations=self._count.copy(), bad_debt_usd=[bad] * n)
        for k, v in cols.items():
            self.step_rows[k].extend(list(v))
        self._count[:] = 0

    def outcome(self, coll, debt, oracle) -> Outcome:
        liq = pa.table({k: _column(v, LIQUIDATIONS_SCHEMA.field(k).type) for k, v in self.rows.items()},
                       schema=LIQUIDATIONS_SCHEMA)
        steps = pa.table({k: _column(v, STEPS_SCHEMA.field(k).type) for k, v in self.step_rows.items()},
                         schema=STEPS_SCHEMA)
        return Outcome(liquidations=liq, steps=steps, collateral=coll, debt=debt, oracle=oracle)


def _column(values: list, kind: pa.DataType) -> pa.Array:
    if kind == UTC_TS:
        return pa.array(np.array(values, dtype="datetime64[us]")).cast(UTC_TS)
    if pa.types.is_floating(kind):
        return pa.array(np.asarray(values, dtype=float), type=kind)
    return pa.array(values, type=kind)
