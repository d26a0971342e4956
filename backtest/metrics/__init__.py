"""The metrics of a replay, defined once (docs/engine.md, Metrics, has the definitions in words and
worked examples)."""

from __future__ import annotations

from functools import cached_property

import numpy as np
import pyarrow.compute as pc

from backtest.inputs.book import ReplayInputs
from backtest.engine.record import Outcome, bad_debt_by_account
from backtest.metrics import amplification, attribution
from backtest.metrics.attribution import bad_debt_by_collateral, bad_debt_by_debt_asset, bad_debt_by_morpho_market, \
    bad_debt_by_protocol, settle
from backtest.metrics.losses import (bad_debt_over_time, borrower_loss, liquidator_economics, row_order_sums,
                                     sequential_sum, step_bad_debt, volume_against_depth)


def _sum(table, col) -> float:
    return float(pc.sum(table[col]).as_py() or 0.0) if table.num_rows else 0.0


def drawdown(path: np.ndarray) -> float:
    """Largest fall from a running peak, as a fraction (0.45 = -45 %)."""
    peak = np.maximum.accumulate(path)
    return float(np.max(1.0 - path / peak)) if len(path) else 0.0


# Keys only a run with the execution-only counterfactual has (`backtest replay`; a sweep runs without it).
EXECUTION_ONLY_KEYS = ("seized_exogenous_usd_execution_only", "amplification_execution_cost",
                       "amplification_price_feedback", "seized_added_by_execution_cost_usd",
                       "seized_added_by_price_feedback_usd", "bad_debt_usd_execution_only",
                       "bad_debt_added_by_price_feedback_usd", "bad_debt_added_by_execution_cost_usd")


# Keys (top-level, before a sweep flattens the per-market dicts to `KEY.MARKET`) only the no-feedback
# counterfactual gives: None where it was not made (a sweep's `--counterfactual none` or `-every K`).
COUNTERFACTUAL_KEYS = ("collateral_seized_usd_without_feedback", "bad_debt_usd_without_feedback", "amplification",
                       "seized_exogenous_usd_without_feedback", "cascade_depth", "induced_steps",
                       "induced_liquidations", "bad_debt_usd_without_feedback_by_protocol",
                       "bad_debt_usd_without_feedback_by_collateral",
                       "collateral_seized_usd_without_feedback_by_protocol",
                       "collateral_seized_usd_without_feedback_by_collateral")


def seized_by(book, liq, column: str) -> dict[str, float]:
    """Collateral seized (USD at the oracle) per protocol or per collateral asset; every one of the
    book's keys present (0 where nothing was seized), so sweep rows share their columns."""
    keys = attribution.book_keys(book).protocols if column == "protocol" else list(book.price_assets)
    out = {k: 0.0 for k in keys}
    if liq.num_rows:                         # a key's seizures summed in row order (as a Python loop would)
        for k, v in row_order_sums(liq[column], liq["collateral_seized_usd"].to_numpy()).items():
            out[k] = out.get(k, 0.0) + v
    return out


def bad_debt_total(book, outcome: Outcome, left: np.ndarray | None = None) -> float:
    """`bad_debt_usd` of a run: accounts' bad debt at the end + deficits burned + Comet's and Maker's losses
    (the Vow's loss under Dog/Clipper and under Cat/Flip: debt the auctions did not raise, penalty excluded).
    `left`: bad_debt_by_account of the run, when already computed."""
    mech = outcome.protocols or {}
    if left is None:
        left = bad_debt_by_account(outcome.collateral, outcome.debt, outcome.prices)
    return float(left.sum()) \
        + _sum(outcome.liquidations, "deficit_usd") + mech.get("comet_reserves_loss_usd", 0.0) \
        + mech.get("maker_vow_loss_usd", 0.0) + mech.get("maker_flip_loss_usd", 0.0)


class RunParts:
    """What the metrics take from one run alone, each worked out on first use and kept: a forked child
    works out its counterfactual's and the parent its own while it waits for them (backtest/run.py), so
    `compute` only combines. Pickled without the inputs and the run, which the parent holds (`attach`)."""
    ALL = ("settled", "seized_usd", "bad_debt_usd", "seized_exogenous_usd", "bad_debt_by_protocol",
           "bad_debt_by_collateral", "seized_by_protocol", "seized_by_collateral")
    EXECUTION = ("settled", "bad_debt_usd", "seized_exogenous_usd")     # what an execution-only run gives
    FEEDBACK = ALL + ("bad_debt_by_debt_asset", "bad_debt_by_morpho_market", "borrower_loss", "liquidator_economics",
                      "volume_by_asset", "protocol_fee_usd")

    def __init__(self, inputs: ReplayInputs, outcome: Outcome):
        self.inputs, self.outcome = inputs, outcome

    def attach(self, inputs: ReplayInputs, outcome: Outcome) -> "RunParts":
        self.inputs, self.outcome = inputs, outcome
        return self

    def ready(self, names=ALL) -> "RunParts":
        for name in names:
            getattr(self, name)
        return self

    def __getstate__(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if k not in ("inputs", "outcome")}

    @cached_property
    def settled(self):                      # bad debt left per account, deficits burned
        return settle(self.inputs, self.outcome)

    @cached_property
    def seized_usd(self) -> float:
        return _sum(self.outcome.liquidations, "collateral_seized_usd")

    @cached_property
    def bad_debt_usd(self) -> float:
        return bad_debt_total(self.inputs.book, self.outcome, self.settled.left)

    @cached_property
    def seized_exogenous_usd(self) -> float:
        return amplification.seized_exogenous_usd(self.inputs, self.outcome)

    @cached_property
    def bad_debt_by_protocol(self) -> dict:
        return bad_debt_by_protocol(self.inputs, self.outcome, self.settled)

    @cached_property
    def bad_debt_by_collateral(self) -> dict:
        return bad_debt_by_collateral(self.inputs, self.outcome, self.settled)

    @cached_property
    def bad_debt_by_debt_asset(self) -> dict:
        return bad_debt_by_debt_asset(self.inputs, self.outcome, self.settled)

    @cached_property
    def bad_debt_by_morpho_market(self) -> dict:
        return bad_debt_by_morpho_market(self.inputs, self.outcome, self.settled)

    @cached_property
    def protocol_fee_usd(self) -> float:
        liq = self.outcome.liquidations     # the row products added in row order, as a Python sum adds them
        return sequential_sum(liq["protocol_fee"].to_numpy() * liq["collateral_price"].to_numpy())

    @cached_property
    def borrower_loss(self) -> dict:
        o = self.outcome
        return borrower_loss(o, dict(zip(self.inputs.book.price_assets, np.asarray(o.oracle, dtype=float).tolist())))

    @cached_property
    def liquidator_economics(self) -> dict:
        return liquidator_economics(self.outcome)

    @cached_property
    def volume_by_asset(self) -> dict:
        return volume_against_depth(self.inputs, self.outcome)

    @cached_property
    def seized_by_protocol(self) -> dict:
        return seized_by(self.inputs.book, self.outcome.liquidations, "protocol")

    @cached_property
    def seized_by_collateral(self) -> dict:
        return seized_by(self.inputs.book, self.outcome.liquidations, "collateral_asset")


def _parts(inputs: ReplayInputs, outcome: Outcome | None, known) -> RunParts | None:
    """The RunParts of `outcome` among those `known`, else new (None for no run)."""
    if outcome is None:
        return None
    return next((k for k in known if k.outcome is outcome), None) or RunParts(inputs, outcome)


def compute(inputs: ReplayInputs, outcome: Outcome, counterfactual: Outcome | None,
            execution: Outcome | None = None, known=()) -> dict:
    """`counterfactual`: the no-feedback run, or None where a sweep did not make it (then every key
    it gives is there, as None: not computed, never 0); `execution`: the execution-only run, when
    made (its metrics split amplification and bad debt into execution cost and price feedback);
    `known`: RunParts already worked out for any of the runs."""
    cf = counterfactual
    book, liq, steps = inputs.book, outcome.liquidations, outcome.steps
    own = _parts(inputs, outcome, known)
    other = own if cf is outcome else _parts(inputs, cf, known)
    settled = own.settled
    bad = settled.left
    burned = _sum(liq, "deficit_usd")
    collateral_start, debt_start, with_debt = attribution.book_keys(book).start_usd
    by_asset = {a: steps.filter(pc.equal(steps["asset"], a)) for a in book.price_assets}
    protocols = list(attribution.book_keys(book).protocols)     # kept per book: not a set of 55,000 names a path
    mech = outcome.protocols or {}                  # Comet / Maker state at the end (engine/mechanisms.py)
    out = {
        "protocols": protocols,
        "liquidations_by_protocol": {p: int(pc.sum(pc.equal(liq["protocol"], p)).as_py() or 0) for p in protocols},
        "accounts": int(len(book.accounts)),
        "accounts_with_debt": with_debt,
        "collateral_usd_start": collateral_start,
        "debt_usd_start": debt_start,
        "steps": int(len(inputs.times)),
        "liquidations": int(liq.num_rows),
        "accounts_liquidated": int(pc.count_distinct(liq["account"]).as_py()) if liq.num_rows else 0,
        "debt_repaid_usd": _sum(liq, "debt_repaid_usd"),
        "collateral_seized_usd": own.seized_usd,
        "protocol_fee_usd": own.protocol_fee_usd,
        "liquidator_profit_usd": _sum(liq, "profit_usd"),
        "gas_usd": _sum(liq, "gas_usd"),
        "bad_debt_usd": own.bad_debt_usd,
        "accounts_with_bad_debt": int((bad > 0).sum()) + int(pc.sum(pc.greater(liq["deficit_usd"], 0)).as_py() or 0),
        "deficit_usd": settled.unsecured + burned,
        "deficit_burned_usd": burned,
        "cascade_rounds": int(pc.max(liq["round"]).as_py()) if liq.num_rows else 0,
        "collateral_seized_usd_without_feedback": None if cf is None else other.seized_usd,
        "bad_debt_usd_without_feedback": None if cf is None else other.bad_debt_usd,
        "max_drawdown_exogenous": {a: drawdown(t["price_exogenous"].to_numpy()) for a, t in by_asset.items()},
        "max_drawdown_effective": {a: drawdown(t["price_market"].to_numpy()) for a, t in by_asset.items()},
    }
    run = _parts(inputs, execution, known)
    out.update(amplification.split(own.seized_exogenous_usd, run and run.seized_exogenous_usd,
                                   other and other.seized_exogenous_usd))
    out.update(amplification.cascade_across_steps(outcome, cf))
    if execution is not None:
        s = run.bad_debt_usd
        out.update({"bad_debt_usd_execution_only": s, "bad_debt_added_by_price_feedback_usd": out["bad_debt_usd"] - s,
                    "bad_debt_added_by_execution_cost_usd": s - out["bad_debt_usd_without_feedback"]})
    out.update(bad_debt_over_time(*step_bad_debt(steps)))
    out["bad_debt_usd_by_protocol"] = own.bad_debt_by_protocol
    out["bad_debt_usd_by_debt_asset"] = own.bad_debt_by_debt_asset
    out["bad_debt_usd_by_collateral"] = own.bad_debt_by_collateral
    by_market = own.bad_debt_by_morpho_market
    if by_market:                            # Morpho Blue: what each isolated market's suppliers lose
        out["bad_debt_usd_by_morpho_market"] = by_market
    out["collateral_seized_usd_by_protocol"] = own.seized_by_protocol
    out["collateral_seized_usd_by_collateral"] = own.seized_by_collateral
    if cf is None:                           # not made: the same per-market keys, each None
        for name in ("bad_debt_usd", "collateral_seized_usd"):
            for split in ("_by_protocol", "_by_collateral"):
                out[f"{name}_without_feedback{split}"] = dict.fromkeys(out[f"{name}{split}"])
    elif cf is not outcome:                  # per market without feedback: the price path alone (sweeps' VaR split)
        out["bad_debt_usd_without_feedback_by_protocol"] = other.bad_debt_by_protocol
        out["bad_debt_usd_without_feedback_by_collateral"] = other.bad_debt_by_collateral
        out["collateral_seized_usd_without_feedback_by_protocol"] = other.seized_by_protocol
        out["collateral_seized_usd_without_feedback_by_collateral"] = other.seized_by_collateral
    out.update(own.borrower_loss)
    out.update(own.liquidator_economics)
    out["volume_by_asset"] = own.volume_by_asset
    out.update(mech)             # comet_* and maker_* counts and losses, only when the book has them
    return out
