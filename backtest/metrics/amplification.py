"""Amplification split into price feedback and execution cost, and the cascade across steps.

Three runs of the same path (backtest/engine/counterfactual.py): feedback (F), execution only
(S: fills at impact, no price moves) and no feedback (N: fills at mid less fee, no price moves).
Seizures are compared in one numeraire, the exogenous price of the step (a feedback run's oracle
is already pushed down by its own sales), net of collateral Maker returned to vault owners.
"""

from __future__ import annotations

import numpy as np

from backtest.engine.record import Outcome


def seized_exogenous_usd(inputs, outcome: Outcome) -> float:
    """Σ units seized x the step's exogenous price - Σ units returned to owners x the same."""
    index = {a: k for k, a in enumerate(inputs.book.price_assets)}
    exo = inputs.exogenous
    liq = outcome.liquidations
    total = 0.0
    if liq.num_rows:
        for s, a, units in zip(liq["step"].to_pylist(), liq["collateral_asset"].to_pylist(),
                               liq["collateral_seized"].to_pylist()):
            total += units * exo[s, index[a]]
    events = outcome.events
    if events is not None and events.num_rows:
        for s, a, back in zip(events["step"].to_pylist(), events["asset"].to_pylist(), events["returned"].to_pylist()):
            if back and back == back:
                total -= back * exo[s, index[a]]
    return float(total)


def ratio(num: float, den: float) -> float | None:
    """num / den; 1.0 when both are 0; None when only the denominator is (no honest ratio)."""
    if den > 0:
        return num / den
    return 1.0 if num == 0 else None


def induced(feedback: Outcome, without: Outcome) -> np.ndarray:
    """Per row of the feedback run's liquidations: True when the no-feedback run had not liquidated
    that account at that step or before (so price feedback, carried over from any earlier step,
    caused it)."""
    liq, base = feedback.liquidations, without.liquidations
    first: dict[tuple[str, str], int] = {}
    if base.num_rows:
        for s, p, a in zip(base["step"].to_pylist(), base["protocol"].to_pylist(), base["account"].to_pylist()):
            first.setdefault((p, a), s)
    if not liq.num_rows:
        return np.zeros(0, dtype=bool)
    never = np.iinfo(np.int64).max          # not liquidated without feedback: once, not per row
    return np.array([first.get((p, a), never) > s for s, p, a in
                     zip(liq["step"].to_pylist(), liq["protocol"].to_pylist(), liq["account"].to_pylist())])


def cascade_across_steps(feedback: Outcome, without: Outcome | None) -> dict:
    """`cascade_depth`: the longest run of consecutive steps (blocks) each with an induced
    liquidation; `induced_steps`: steps with one; `induced_liquidations`: rows (all None without
    the no-feedback run: induced is defined against it)."""
    if without is None:
        return {"cascade_depth": None, "induced_steps": None, "induced_liquidations": None}
    mask = induced(feedback, without)
    steps = sorted(set(np.asarray(feedback.liquidations["step"].to_pylist(), dtype=np.int64)[mask].tolist())) \
        if mask.any() else []
    longest = run = 0
    for k, s in enumerate(steps):
        run = run + 1 if k and s == steps[k - 1] + 1 else 1
        longest = max(longest, run)
    return {"cascade_depth": longest, "induced_steps": len(steps), "induced_liquidations": int(mask.sum())}


def split(f: float, s: float | None, n: float | None) -> dict:
    """Amplification (F / N) and, when the execution-only run was made, its two factors: execution
    cost (S / N) and price feedback (F / S), whose product it is; and the same as USD differences.
    f, s, n: each run's seized_exogenous_usd (s None: no execution-only run; n None: no no-feedback
    run, and what needs N is None)."""
    if n is None:
        return {"amplification": None, "seized_exogenous_usd": f, "seized_exogenous_usd_without_feedback": None}
    out = {"amplification": ratio(f, n), "seized_exogenous_usd": f, "seized_exogenous_usd_without_feedback": n}
    if s is None:
        return out
    out.update({"seized_exogenous_usd_execution_only": s,
                "amplification_execution_cost": ratio(s, n), "amplification_price_feedback": ratio(f, s),
                "seized_added_by_execution_cost_usd": s - n, "seized_added_by_price_feedback_usd": f - s})
    return out
