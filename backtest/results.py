"""A results folder, written whole or not at all: config.toml, liquidations.parquet,
steps.parquet, events.parquet (Comet and Maker protocol events), accounts.parquet, metrics.json."""

from __future__ import annotations

import json
import math
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pyarrow as pa

from backtest.config import RunConfig
from backtest.inputs.book import ReplayInputs
from backtest.engine.record import Outcome
from backtest.protocols.rules import health_factor, rules_for
from backtest.lake.io import atomic_dir, write_parquet
from backtest.numbers import usd


FEEDBACK_SHOWN = {"full": "on", "none": "off",
                  "excess": "excess (only flow beyond the day's real liquidations moves prices)"}


def _clean(value):
    """JSON without NaN/inf (not JSON) and with floats rounded past noise, for byte-stable files."""
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, float):
        return None if not math.isfinite(value) else float(f"{value:.12g}")
    return value


def accounts_table(inputs: ReplayInputs, outcome: Outcome) -> pa.Table:
    """Per account, before (snapshot prices) and after (final oracle prices): what a report's
    health-factor figures need without reloading the lake."""
    book = inputs.book
    names, which = np.unique(book.protocol.astype(str), return_inverse=True)     # the rules asked once a protocol
    floors = np.array([rules_for(p).floors_average_lt for p in names.tolist()], dtype=bool)[which.reshape(-1)]
    before, after = inputs.exogenous[0][book.reserve_asset], outcome.prices
    cols = {"protocol": pa.array(book.protocol.astype(str)), "account": pa.array(book.accounts),
            "emode_category": pa.array(np.zeros(len(book.accounts)) if book.emode is None else book.emode, pa.int32())}
    for tag, coll, debt, price in (("before", book.collateral, book.debt, before),
                                   ("after", outcome.collateral, outcome.debt, after)):
        cu, du = coll * price, debt * price
        cols[f"collateral_usd_{tag}"] = cu.sum(axis=1)
        cols[f"debt_usd_{tag}"] = du.sum(axis=1)
        cols[f"health_factor_{tag}"] = health_factor(cu, du, book.liquidation_threshold, floors)
    return pa.table(cols)


def write_results(out: Path, config: RunConfig, outcome: Outcome, metrics: dict,
                  inputs: ReplayInputs | None = None) -> Path:
    tables = {"liquidations": lambda: outcome.liquidations, "steps": lambda: outcome.steps}
    if outcome.events is not None:
        tables["events"] = lambda: outcome.events
    if inputs is not None:
        tables["accounts"] = lambda: accounts_table(inputs, outcome)
    with atomic_dir(Path(out)) as tmp, ThreadPoolExecutor(2) as pool:   # arrow encodes and writes without the GIL
        (tmp / "config.toml").write_text(config.to_toml())
        written = [pool.submit(lambda n, t: write_parquet(t(), tmp / f"{n}.parquet"), n, t) for n, t in tables.items()]
        (tmp / "metrics.json").write_text(json.dumps(_clean(metrics), indent=2, sort_keys=True) + "\n")
        for w in written:
            w.result()                       # a failed write raises here, inside atomic_dir: nothing is left
    return Path(out)


def _split(parts: dict) -> str:
    shown = [(k, v) for k, v in sorted(parts.items(), key=lambda kv: -kv[1]) if v >= 0.5]
    return ", ".join(f"{k} ${v:,.0f}" for k, v in shown) or "-"


def _ratio(x) -> str:
    return "n/a" if x is None else f"{x:,.2f}x"


def _under_water(m: dict) -> str:
    if m["first_bad_debt_at"] is None:
        return "never"
    hours = m["time_under_water_seconds"] / 3600
    end = "still at the end" if m["under_water_at_end"] else f"recovered {m['bad_debt_recovered_at']}"
    return f"{hours:,.1f} h from {m['first_bad_debt_at']} ({end})"


def _sensitivity(scenario: str) -> str:
    from backtest.metrics.sensitivity import flagged
    return flagged(scenario)


def _unobservable(m: dict) -> list[str]:
    from backtest.metrics.sensitivity import unobservable
    return unobservable(m)


def summary(config: RunConfig, metrics: dict, title: str) -> str:
    """A readable block for the terminal."""
    m = metrics
    amp = "n/a (nothing liquidated without feedback)" if m["amplification"] is None else f"{m['amplification']:.3f}"
    lines = [
        f"{title}",
        f"  book            {m['accounts']:,} accounts ({m['accounts_with_debt']:,} borrowing), "
        f"collateral {usd(m['collateral_usd_start'])}, debt {usd(m['debt_usd_start'])}",
        f"  steps           {m['steps']:,}   feedback {FEEDBACK_SHOWN[config.mode]}",
        f"  liquidations    {m['liquidations']:,} on {m['accounts_liquidated']:,} accounts",
        f"  debt repaid     {usd(m['debt_repaid_usd'])}",
        f"  collateral sold {usd(m['collateral_seized_usd'])}   (without feedback: "
        f"{usd(m['collateral_seized_usd_without_feedback'])})",
        f"  liquidator P&L  {usd(m['liquidator_profit_usd'])} after {usd(m['gas_usd'])} gas",
        f"  cascade depth   {m['cascade_depth']} step{'s' if m['cascade_depth'] != 1 else ''} in a row with induced liquidations "
        f"({m['induced_liquidations']:,} induced, in {m['induced_steps']:,} steps); at most {m['cascade_rounds']} rounds "
        "in a step",
        f"  amplification   {amp}" + (f" = execution cost {_ratio(m['amplification_execution_cost'])} x price feedback "
                                      f"{_ratio(m['amplification_price_feedback'])}"
                                      if "amplification_price_feedback" in m else ""),
        f"  bad debt        {usd(m['bad_debt_usd'])} on {m['accounts_with_bad_debt']:,} accounts "
        f"(without feedback: {usd(m['bad_debt_usd_without_feedback'])}); deficit {usd(m['deficit_usd'])}",
        *([f"  comet           {m['comet_absorbs']:,} absorbs, {m['comet_buy_collateral']:,} buyCollateral; "
            f"reserves loss {usd(m['comet_reserves_loss_usd'])}, inventory left {usd(m['comet_inventory_usd'])}"]
          if "comet_absorbs" in m else []),
        *([f"  maker           {m['maker_barks']:,} barks, {m['maker_takes']:,} takes, {m['maker_redos']:,} redos, "
            f"{m['maker_auctions_open']:,} open; Vow's loss {usd(m['maker_vow_loss_usd'])} "
            f"(tab uncovered {usd(m['maker_uncovered_tab_usd'])}), "
            f"keeper rewards {usd(m['maker_keeper_rewards_usd'])}"] if "maker_barks" in m else []),
        *([f"  maker cat/flip  {m['maker_flip_bites']:,} bites, {m['maker_flip_tends']:,} tends, "
           f"{m['maker_flip_dents']:,} dents, {m['maker_flip_deals']:,} deals ({m['maker_flip_zero_bid_auctions']:,} "
           f"at a zero bid), {m['maker_flip_auctions_open']:,} open; loss {usd(m['maker_flip_loss_usd'])}"]
          if "maker_flip_bites" in m else []),
        f"  bad debt peak   {usd(m['peak_bad_debt_usd'])} at {m['peak_bad_debt_at'] or '-'}; final "
        f"{usd(m['bad_debt_usd'])}; under water {_under_water(m)}",
        "  by protocol     " + _split(m["bad_debt_usd_by_protocol"]),
        "  by debt asset   " + _split(m["bad_debt_usd_by_debt_asset"]),
        "  by collateral   " + _split(m["bad_debt_usd_by_collateral"]),
        f"  borrowers lost  {usd(m['borrower_loss_usd'])} (penalty {usd(m['borrower_penalty_usd'])}, "
        f"auction slippage {usd(m['borrower_slippage_usd'])}, taken worth less than the debt "
        f"{usd(m['borrower_shortfall_usd'])})",
        f"  keepers' P&L    {usd(m['keeper_profit_usd'])} (buyCollateral, take); paid to builders "
        + (usd(m['builder_payments_usd']) if m.get("builder_payments_modelled") else "not modelled")
        + (f" ({m['builder_payments_unmodelled']:,} Cat/Flip keeper events not included)"
           if m.get("builder_payments_unmodelled") else ""),
        "  sold over       " + "; ".join(
            f"{a} {_ratio(v['sold_over_depth_2pct'])} its 2 % depth, {_ratio(v['sold_over_daily_volume'])} a day's volume"
            for a, v in sorted(m["volume_by_asset"].items(), key=lambda kv: -kv[1]["sold_usd"])[:3]),
        "  drawdown        " + ", ".join(
            f"{a} {m['max_drawdown_exogenous'][a]:.0%}->{m['max_drawdown_effective'][a]:.0%}"
            for a in sorted(m["max_drawdown_exogenous"]) if m["max_drawdown_exogenous"][a] > 0.005
            or m["max_drawdown_effective"][a] > 0.005) + "  (exogenous->effective)",
        "  sensitivity     " + _sensitivity(config.scenario), *_unobservable(m),
    ]
    return "\n".join(lines)
