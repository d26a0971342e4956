"""The day's real liquidation flow over a replay's window, per step and price asset, in the run's USD:
what `feedback_mode = "excess"` sets simulated flow against (backtest/markets/carried.py).

Read with queries/real_liquidation_flow.sql from the lake's liquidation rows (lending_supply /
lending_borrow; a table the lake lacks reads as empty). A lake without them, or without one in the window, is refused in one line: the
excess over an unknown flow is not the full flow, and never silently so.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from backtest.errors import InputError
from backtest.scenarios.library import Scenario

FILL = "`backtest ingest --source aave-v3 ...` (LiquidationCall) or `backtest ingest --dune supplies.csv`"


def load_carried_flow(lake: Path, scenario: Scenario, assets: list[str], exogenous: np.ndarray) -> np.ndarray:
    """[T, A, 2]: USD sold (collateral seized) and bought (debt repaid) by real liquidations in each step,
    token amounts valued at the step's path price of the run (the money the simulated flow is in). Assets the
    book does not price are left out: no flow of ours meets them."""
    from backtest.ingest.tables import chain_query, connect_chain
    window = f"{scenario.start:%Y-%m-%d %H:%M}Z..{scenario.end:%Y-%m-%d %H:%M}Z"
    table = chain_query(connect_chain(lake), "real_liquidation_flow", {
        "start": scenario.start.isoformat(), "end": scenario.end.isoformat(),
        "step_seconds": scenario.step_seconds}).to_pydict()
    out = np.zeros((len(exogenous), len(assets), 2))
    for step, asset, sold, bought in zip(table["step"], table["asset"], table["sold"], table["bought"]):
        if asset in assets and 0 <= step < len(exogenous):
            a = assets.index(asset)
            out[step, a] += (sold * exogenous[step, a], bought * exogenous[step, a])
    if not out.any():
        raise InputError(f"feedback_mode=excess needs the day's real liquidation flow: the lake has no liquidation "
                         f"of the book's assets in {window} (fill it with {FILL}, or use feedback_mode=full)",
                         file=lake)
    return out
