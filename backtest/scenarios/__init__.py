"""Scenarios: named price paths (historical from the lake, or stylised) with a window and step."""

from backtest.scenarios.library import Scenario, list_scenarios, load_scenario, SCENARIO_DIR

__all__ = ["Scenario", "list_scenarios", "load_scenario", "SCENARIO_DIR"]
