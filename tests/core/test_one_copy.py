"""The replay liquidates through the very functions the differential tests hold equal to the deployed
contracts: tests/chain/test_aave_v{2,3}_differential.py call RULES[protocol].terms (chain_helpers.engine_terms),
and here the replay must reach every repaying protocol's liquidations through those same entries."""

from __future__ import annotations

import dataclasses
from collections import Counter

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
    from backtest.protocols.aave import terms as aave
    from backtest.protocols.compound_v2 import terms as compound
    assert registry.RULES["aave-v2"].terms is aave.aave_v2_terms
    assert registry.RULES["aave-v3"].terms is aave.aave_v3_terms
    assert registry.RULES["aave-v3.3"].terms is aave.aave_v33_terms
    assert registry.RULES["compound-v2"].terms is compound.compound_v2_terms
