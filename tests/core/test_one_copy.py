"""The replay liquidates through the very functions the differential tests hold equal to the deployed
contracts: tests/chain/test_aave_v{2,3}_differential.py call RULES[protocol].terms (chain_helpers.engine_terms),
and here the replay must reach every repaying protocol's liquidations through those same entries; every other
float function those tests check (health factor, close factor, v2's cap) must be one the replay calls."""

from __future__ import annotations

import ast
import dataclasses
import importlib
from collections import Counter
from pathlib import Path

from backtest import compiled
from backtest.run import make_config, run
from backtest.protocols import rules as registry
from backtest.scenarios import load_scenario

SCENARIO = load_scenario("stylised-eth-crash")


def test_every_repaying_liquidation_goes_through_the_registry_terms(small_lake, monkeypatch):
    calls: Counter = Counter()
    for name, rules in list(registry.RULES.items()):
        if rules.terms is None:
            continue

        def spy(*args, _terms=rules.terms, _name=name):
            calls[_name] += 1
            return _terms(*args)
        monkeypatch.setitem(registry.RULES, name, dataclasses.replace(rules, terms=spy))
    liq = run(make_config(SCENARIO, small_lake, ()), SCENARIO).outcome.liquidations.to_pandas()
    repaid = liq[liq["action"] == "liquidate"]
    assert len(repaid) > 100
    # each protocol liquidated by repayment asked its registry terms at least once per liquidation
    for protocol, n in repaid["protocol"].value_counts().items():
        assert calls[protocol] >= n, (protocol, calls)
    assert {"aave-v2", "aave-v3"} <= set(repaid["protocol"]), "the sample should exercise both differential-tested rules"


def test_the_registry_terms_are_the_protocol_folders_functions():
    # each Aave version's float terms and close factor sit in the module of its exact-integer twin
    # (aave/v2.py, v3.py, v33.py), the modules tests/chain import
    from backtest.protocols.aave import v2, v3, v33
    from backtest.protocols.compound_v2 import terms as compound
    assert registry.RULES["aave-v2"].terms is v2.terms and registry.RULES["aave-v2"].max_close is v2.max_close
    assert registry.RULES["aave-v3"].terms is v3.terms and registry.RULES["aave-v3"].max_close is v3.max_close
    assert registry.RULES["aave-v3.3"].terms is v33.terms and registry.RULES["spark"].terms is v3.terms
    assert registry.RULES["compound-v2"].terms is compound.compound_v2_terms


CHAIN = Path(__file__).resolve().parents[1] / "chain"


def _float_functions_the_differential_tests_call() -> set[tuple[str, str]]:
    """(module alias, name) of every aave_v2./aave_v3. function the Aave differential tests call that is
    not exact-integer maths (`*_exact`, percent_*, wad_*)."""
    out = set()
    for name in ("test_aave_v2_differential.py", "test_aave_v3_differential.py", "chain_helpers.py"):
        for node in ast.walk(ast.parse((CHAIN / name).read_text())):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and isinstance(node.func.value, ast.Name) and node.func.value.id in ("aave_v2", "aave_v3")):
                fn = node.func.attr
                if "exact" not in fn and not fn.startswith(("percent_", "wad_")):
                    out.add((node.func.value.id, fn))
    return out


def test_the_replay_runs_the_float_functions_the_differential_tests_check(small_lake, monkeypatch):
    # tests/chain hold aave_v2's and aave_v3's float functions (health factor, close factor, v2's 50 % cap)
    # to the deployed Pool: each must be a function the replay itself calls, not a copy next to it. The
    # replay's Python path is the reference; the compiled screen (agents/screen.py) is held to it bit for
    # bit by tests/perf/test_screen.py.
    from backtest.protocols.aave import v2 as aave_v2, v3 as aave_v3
    checked = _float_functions_the_differential_tests_call()
    assert {("aave_v3", "health_factor"), ("aave_v3", "close_factor"), ("aave_v2", "max_repay")} <= checked
    functions = {key: getattr({"aave_v2": aave_v2, "aave_v3": aave_v3}[key[0]], key[1]) for key in checked}
    calls: Counter = Counter()
    for fn in {id(f): f for f in functions.values()}.values():     # aave_v2.health_factor is v3's: spied once

        def spy(*args, _fn=fn, **kwargs):
            calls[id(_fn)] += 1
            return _fn(*args, **kwargs)
        monkeypatch.setattr(importlib.import_module(fn.__module__), fn.__name__, spy)
    with compiled.python_path():
        run(make_config(SCENARIO, small_lake, ()), SCENARIO)
    assert not [key for key, fn in functions.items() if not calls[id(fn)]], sorted(checked)

