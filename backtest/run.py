"""One replay end to end: config -> inputs -> the feedback run and two counterfactuals (no feedback;
execution only: fills at impact, no price moves; backtest/engine/counterfactual.py) -> metrics.

Above both the engine and metrics (docs/architecture.md): the engine does not import what measures it."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

from backtest.config import RunConfig, apply_overrides
from backtest.engine.counterfactual import execution_only
from backtest.engine.record import Outcome
from backtest.engine.replay import replay
from backtest.inputs.book import ReplayInputs, load_inputs
from backtest.metrics import compute
from backtest.scenarios.library import Scenario, load_scenario

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SCENARIO = "stylised-eth-crash"


def default_lake() -> Path:
    return Path(os.environ.get("BACKTEST_LAKE", REPO / "data" / "lake"))


@dataclass
class Run:
    config: RunConfig
    scenario: Scenario
    inputs: ReplayInputs
    outcome: Outcome
    counterfactual: Outcome     # no feedback
    metrics: dict
    execution: Outcome | None = None    # execution only (None with --no-feedback: nothing to split)


def make_config(scenario: Scenario, lake: Path, overrides=(), feedback: bool = True) -> RunConfig:
    """Scenario parameters first, then the command line's --set, so the user has the last word."""
    config = RunConfig(scenario=scenario.name, lake=str(lake), scenario_spec=scenario.raw)
    config = apply_overrides(config, scenario.parameters)
    config = apply_overrides(config, list(overrides))
    return config if feedback else replace(config, feedback=False, feedback_mode=None)


def run(config: RunConfig, scenario: Scenario | None = None, show_progress: bool = False) -> Run:
    scenario = scenario or load_scenario(config.scenario)
    inputs = load_inputs(config, scenario)
    outcome = replay(inputs, config, label="replay" if show_progress else None)
    if not config.feedback:
        return Run(config, scenario, inputs, outcome, outcome, compute(inputs, outcome, outcome))
    counterfactual = replay(inputs, config, feedback=False, label="without price impact" if show_progress else None)
    execution = replay(execution_only(inputs), config, label="execution only" if show_progress else None)
    return Run(config, scenario, inputs, outcome, counterfactual, compute(inputs, outcome, counterfactual, execution),
               execution)
