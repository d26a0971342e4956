"""Amplification split into price feedback and execution cost, and the cascade across steps.

Three runs of the same path (backtest/engine/counterfactual.py): feedback (F), execution only
(S: fills at impact, no price moves) and no feedback (N: fills at mid less fee, no price moves).
Seizures are compared in one numeraire, the exogenous price of the step (a feedback run's oracle
is already pushed down by its own sales), net of collateral Maker returned to vault owners.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from backtest.engine.record import Outcome
from backtest.metrics.losses import sequential_sum


def seized_exogenous_usd(inputs, outcome: Outcome) -> float:
    """Σ units seized x the step's exogenous price - Σ units returned to owners x the same, added row
    by row in the tables' order (sequential_sum: the bits a Python loop gives)."""
    index = {a: k for k, a in enumerate(inputs.book.price_assets)}
    exo = np.asarray(inputs.exogenous, dtype=float)
    parts = []
    liq = outcome.liquidations
    if liq.num_rows:
        parts.append(_column(liq, "collateral_seized") * exo[_column(liq, "step", int), _columns_of(liq["collateral_asset"], index)])
    events = outcome.events
    if events is not None and events.num_rows:
        back = _column(events, "returned")
        some = np.flatnonzero((back != 0) & (back == back))          # none, zero and NaN return nothing
        if len(some):
            steps, assets = _column(events, "step", int)[some], _columns_of(events["asset"].take(some), index)
            parts.append(-(back[some] * exo[steps, assets]))
    return sequential_sum(np.concatenate(parts)) if parts else 0.0


def _column(table, name: str, dtype=float) -> np.ndarray:
    """A column as numpy (nulls as NaN for floats)."""
    return np.asarray(table[name].to_numpy(), dtype=dtype)


def _columns_of(names, index: dict[str, int]) -> np.ndarray:
    """Each row's asset name as its column of the price matrices."""
    if isinstance(names, pa.ChunkedArray):
        names = names.combine_chunks()
    encoded = pc.dictionary_encode(names)
    columns = np.array([index[a] for a in encoded.dictionary.to_pylist()], dtype=np.int64)
    return columns[encoded.indices.to_numpy(zero_copy_only=False)]


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
    if not liq.num_rows:
        return np.zeros(0, dtype=bool)
    never = np.iinfo(np.int64).max                  # not liquidated without feedback
    if not base.num_rows:
        return np.ones(liq.num_rows, dtype=bool)
    # (protocol, account) of both runs as one code each; the no-feedback run's first step per code
    keys = pa.concat_arrays([_keys(base), _keys(liq)])
    codes = pc.dictionary_encode(keys).indices.to_numpy()
    base_codes, liq_codes = codes[:base.num_rows], codes[base.num_rows:]
    first = np.full(codes.max() + 1, never, dtype=np.int64)
    seen, at = np.unique(base_codes, return_index=True)
    first[seen] = _column(base, "step", np.int64)[at]
    return first[liq_codes] > _column(liq, "step", np.int64)


def _keys(table) -> pa.Array:
    return pc.binary_join_element_wise(table["protocol"], table["account"], "\x00").combine_chunks()


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
