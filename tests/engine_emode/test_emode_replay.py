"""Aave v3 e-mode through the engine: the lake says which category an account is in and what a
category's parameters are; the book gives those positions a reserve of their own."""

from __future__ import annotations

import numpy as np
import pyarrow.compute as pc
import pytest

from backtest.cli import main
from backtest.inputs.book import load_book
from backtest.protocols.rules import health_factor
from backtest.run import make_config, run
from backtest.errors import InputError
from backtest.scenarios import load_scenario

from tests.engine_emode.conftest import IN_EMODE, OUTSIDE, make_lake, scenario_file


def _replay(tmp_path, move, *overrides, **lake_kw):
    lake = make_lake(tmp_path / "lake", **lake_kw)
    scenario = load_scenario(scenario_file(tmp_path, move))
    return run(make_config(scenario, lake, overrides), scenario)


def _hf(book, prices=None):
    price = (book.prices if prices is None else prices)[book.reserve_asset]
    floors = np.ones(len(book.accounts), dtype=bool)
    hf = health_factor(book.collateral * price, book.debt * price, book.liquidation_threshold, floors)
    return dict(zip(book.accounts, hf))


def test_an_account_in_emode_has_its_positions_on_the_category_reserve(tmp_path):
    lake = make_lake(tmp_path / "lake")
    scenario = load_scenario(scenario_file(tmp_path, 0.0))
    book = load_book(lake, scenario, make_config(scenario, lake))
    reserves = list(zip(book.reserve_protocol, book.assets, book.reserve_emode.tolist()))
    assert reserves == [("aave-v3", "USDC", 0), ("aave-v3", "WETH", 0), ("aave-v3", "WETH", 1),
                        ("aave-v3", "wstETH", 0), ("aave-v3", "wstETH", 1)]
    # the category's LTV / LT / bonus on the e-mode columns, the asset's own elsewhere
    np.testing.assert_array_equal(book.ltv, [0.77, 0.80, 0.90, 0.78, 0.90])
    np.testing.assert_array_equal(book.liquidation_threshold, [0.80, 0.83, 0.93, 0.81, 0.93])
    np.testing.assert_array_equal(book.liquidation_bonus, [0.045, 0.05, 0.01, 0.06, 0.01])
    a = list(book.accounts).index(IN_EMODE)
    assert book.emode[a] == 1 and book.collateral[a, 4] == 10.0 and book.debt[a, 2] == 9.0
    assert book.collateral[a, 3] == 0.0 and book.debt[a, 1] == 0.0


def test_emode_lt_keeps_an_account_safe_that_the_asset_lt_would_liquidate(tmp_path):
    lake = make_lake(tmp_path / "lake")
    scenario = load_scenario(scenario_file(tmp_path, 0.0))
    hf = _hf(load_book(lake, scenario, make_config(scenario, lake)))
    # 10 wstETH x $2,000 = $20,000 collateral, 9 WETH x $2,000 = $18,000 debt:
    # in e-mode 20,000 x 0.93 / 18,000 = 1.0333; outside 20,000 x 0.81 / 18,000 = 0.9
    assert hf[IN_EMODE] == pytest.approx(20_000 * 0.93 / 18_000, rel=1e-12)
    assert hf[OUTSIDE] == pytest.approx(20_000 * 0.81 / 18_000, rel=1e-12)
    liq = _replay(tmp_path, 0.0).outcome.liquidations
    assert set(liq["account"].to_pylist()) == {OUTSIDE}


def test_an_emode_liquidation_seizes_with_the_category_bonus(tmp_path):
    # wstETH -10 %: 9 WETH against 10 x $1,800 = $18,000; HF = 18,000 x 0.93 / 18,000 = 0.93 < 0.95,
    # so the whole WETH debt may be repaid; each WETH repaid takes 2,000 / 1,800 x 1.01 wstETH. Aave v3
    # prices wstETH as rate x ETH/USD since 2023-06 (backtest/markets/oracle_table.py), which a wstETH-only
    # move never reaches: the feed is set to read wstETH's own market here, to exercise the bonus.
    out = _replay(tmp_path, -0.10, "oracle.aave_v3.wstETH.kind=chainlink")
    liq = out.outcome.liquidations.filter(pc.equal(out.outcome.liquidations["account"], IN_EMODE)).to_pylist()
    assert liq, "the e-mode account fell below HF 1 and a liquidator took it"
    first = liq[0]
    assert first["health_factor_before"] == pytest.approx(0.93, rel=1e-3)
    assert first["protocol"] == "aave-v3" and first["collateral_asset"] == "wstETH"
    ratio = first["collateral_seized"] * first["collateral_price"] / (first["debt_repaid"] * first["debt_price"])
    assert ratio == pytest.approx(1.01, rel=1e-9)          # the category's 1 %, not wstETH's own 6 %


def test_set_emode_overrides_the_category_and_an_asset_override_the_asset_reserve_only(tmp_path):
    lake = make_lake(tmp_path / "lake")
    scenario = load_scenario(scenario_file(tmp_path, 0.0))

    def lt(*overrides):
        return load_book(lake, scenario, make_config(scenario, lake, overrides)).liquidation_threshold.tolist()

    assert lt("emode.1.liquidation_threshold=0.95") == [0.80, 0.83, 0.95, 0.81, 0.95]
    # on chain a reserve's LT and its e-mode category's LT are separate parameters
    assert lt("emode.1.liquidation_threshold=0.95", "liquidation_threshold.wstETH=0.70") == \
        [0.80, 0.83, 0.95, 0.70, 0.95]
    assert lt("liquidation_threshold=0.5") == [0.5, 0.5, 0.93, 0.5, 0.93]
    with pytest.raises(InputError, match="e-mode category 2"):
        lt("emode.2.liquidation_threshold=0.95")
    with pytest.raises(InputError, match="CATEGORY 1..255"):
        lt("emode.0.liquidation_threshold=0.95")


def test_the_run_config_records_emode_overrides_and_reads_them_back(tmp_path):
    from backtest.config import RunConfig
    out = _replay(tmp_path, 0.0, "emode.1.liquidation_bonus=0.02")
    text = out.config.to_toml()
    assert '[emode_overrides]\n"1.liquidation_bonus" = 0.02' in text
    assert RunConfig.from_toml(text) == out.config
    assert "emode_overrides" not in make_config(out.scenario, tmp_path / "lake").to_toml()   # none: bytes as before


def test_an_account_in_a_category_with_no_parameters_is_refused(tmp_path):
    lake = make_lake(tmp_path / "lake", categories=())
    scenario = load_scenario(scenario_file(tmp_path, 0.0))
    with pytest.raises(InputError, match="emode_categories has no row"):
        load_book(lake, scenario, make_config(scenario, lake))


def test_emode_on_a_protocol_without_it_is_refused_with_its_row(tmp_path):
    lake = make_lake(tmp_path / "lake", protocol="aave-v2")
    scenario = load_scenario(scenario_file(tmp_path, 0.0))
    with pytest.raises(InputError) as err:
        load_book(lake, scenario, make_config(scenario, lake))
    assert err.value.column == "emode_category" and err.value.row == 1 and "aave-v2" in err.value.message


@pytest.mark.parametrize("column, value, named, says", [
    ("liquidation_threshold", 1.2, "liquidation_threshold", "must be <= 1"),
    ("liquidation_bonus", -0.01, "liquidation_bonus", "must be >= 0"),
    ("ltv", 0.95, "liquidation_threshold", "must be >= ltv"),      # LT 0.93 under an LTV of 0.95
    ("category", 0, "category", "within 1..255"),
    ("category", 256, "category", "within 1..255"),
])
def test_bad_emode_categories_stop_the_replay_with_one_line(tmp_path, capsys, column, value, named, says):
    from tests.engine_emode.conftest import CATEGORY
    good = dict(CATEGORY, category=2)
    lake = make_lake(tmp_path / "lake", categories=(CATEGORY, dict(good, **{column: value})))
    assert main(["replay", str(scenario_file(tmp_path, 0.0)), "--lake", str(lake), "--out", str(tmp_path / "r")]) != 0
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "emode_categories" in err and f"column {named!r}" in err and "row 2" in err and says in err


def test_a_sweep_derives_the_same_emode_parameters_as_the_engine_loads(tmp_path):
    """The sweep's per-worker shortcut (the book loaded once, `--set` applied to its arrays) must give
    the e-mode reserves what load_inputs gives them."""
    from backtest.inputs.book import load_inputs
    from backtest.sweep.inputs import InputsCache
    lake = make_lake(tmp_path / "lake")
    scenario = load_scenario(scenario_file(tmp_path, 0.0))
    cache = InputsCache()
    for overrides in (["liquidation_threshold.wstETH=0.70", "liquidation_bonus=0.02"],
                      ["emode.1.liquidation_threshold=0.95", "ltv=0.5"]):
        config = make_config(scenario, lake, overrides)
        derived, loaded = cache.inputs(config, scenario).book, load_inputs(config, scenario).book
        for name in ("ltv", "liquidation_threshold", "liquidation_bonus", "close_factor", "protocol_fee"):
            np.testing.assert_array_equal(getattr(derived, name), getattr(loaded, name), err_msg=name)
    assert loaded.liquidation_threshold.tolist() == [0.80, 0.83, 0.95, 0.81, 0.95]


def test_accounts_parquet_names_each_accounts_emode_category(tmp_path):
    import pyarrow.parquet as pq
    lake = make_lake(tmp_path / "lake")
    assert main(["replay", str(scenario_file(tmp_path, 0.0)), "--lake", str(lake), "--out", str(tmp_path / "r")]) == 0
    accounts = pq.read_table(tmp_path / "r" / "accounts.parquet").to_pydict()
    category = dict(zip(accounts["account"], accounts["emode_category"]))
    assert category[IN_EMODE] == 1 and category[OUTSIDE] == 0
