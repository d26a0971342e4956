"""`--set comet.KEY=` and `--set maker.ASSET.KEY=`: what-ifs on Comet's and Maker's own settings."""

import pytest

from backtest.config import RunConfig
from backtest.overrides import apply_overrides
from backtest.run import make_config, run
from backtest.errors import InputError
from backtest.scenarios import load_scenario

SCENARIO = load_scenario("stylised-eth-crash")


def test_set_lands_in_the_runs_scenario_tables_and_leaves_the_original_alone():
    base = RunConfig(scenario="s", lake="l", scenario_spec={"maker": {"WETH": {"buf": 1.3}}})
    c = apply_overrides(base, ["comet.target_reserves=1e7", "maker.WETH.tail=3600", "maker.WBTC.curve=linear"])
    assert c.scenario_spec["comet"] == {"target_reserves": 1e7}
    assert c.scenario_spec["maker"] == {"WETH": {"buf": 1.3, "tail": 3600.0}, "WBTC": {"curve": "linear"}}
    assert base.scenario_spec == {"maker": {"WETH": {"buf": 1.3}}}
    assert "target_reserves = 10000000.0" in c.to_toml()          # the results folder records it


@pytest.mark.parametrize("pair, column", [
    ("comet.nope=1", "comet.nope"),
    ("comet.absorb=sometimes", "comet.absorb"),
    ("comet.store_front_price_factor=2", "comet.store_front_price_factor"),
    ("maker.WETH.curve=zigzag", "maker.WETH.curve"),
    ("maker.WETH.tail=soon", "maker.WETH.tail"),
])
def test_a_bad_setting_fails_before_the_run_naming_it(pair, column):
    with pytest.raises(InputError, match=f"column '{column}'"):
        apply_overrides(RunConfig(scenario="s", lake="l"), [pair])


def test_a_protocol_run_absorber_absorbs_accounts_a_profit_seeking_bot_leaves(small_lake):
    # "when_buying_pays": a bot absorbs only when buying the collateral back pays its gas; the default
    # "always" absorbs every account under water, so there are at least as many absorbs, and here strictly
    # more (small accounts).
    seeker = run(make_config(SCENARIO, small_lake, ["comet.absorb=when_buying_pays"]), SCENARIO).metrics
    always = run(make_config(SCENARIO, small_lake, []), SCENARIO).metrics
    assert always["comet_absorbs"] > seeker["comet_absorbs"] > 0
