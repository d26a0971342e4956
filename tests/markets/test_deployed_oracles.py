"""Oracles per (protocol, asset) as deployed (backtest/markets/oracles.py, oracle_table.py): each
feed follows its own on-chain rule over the reference market price."""

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from backtest.config import OracleConfig, RunConfig
from backtest.overrides import apply_overrides
from tests.markets import oracle_models
from backtest.markets.oracle import Oracles as AssetOracles
from backtest.markets.oracle_table import ROWS, YEAR, row
from backtest.markets.oracles import Oracles

BLOCK = 12.0
DEFAULT = OracleConfig()


def drive(oracles: Oracles, path: np.ndarray, dt: float = BLOCK) -> np.ndarray:
    """[T, R]: each column's price per block, the engine's calls (update, then observe)."""
    out = []
    for k, ref in enumerate(path):
        out.append(oracles.update(k * dt, ref).copy())
        oracles.observe(k * dt, ref)
    return np.array(out)


def build(columns, assets, first, day, config=DEFAULT) -> Oracles:
    return Oracles(columns, assets, config, np.asarray(first, dtype=float), np.datetime64(day))


def test_aave_v3_wsteth_follows_eth_times_the_rate_while_its_own_market_crashes():
    # 3 h of blocks: ETH drifts down 8 %, the wstETH reference falls to 10 % of its start price.
    t = np.arange(900)
    eth = 2_000.0 * (1 - 0.08 * t / t[-1])
    wst = 2_300.0 * np.maximum(0.1, 1 - 2 * t / t[-1])
    path = np.stack([eth, wst], axis=1)
    columns = [("aave-v3", "WETH"), ("aave-v3", "wstETH"), ("maker", "wstETH")]
    got = drive(build(columns, ["WETH", "wstETH"], path[0], "2024-06-01"), path)
    rate = 2_300.0 / 2_000.0                                   # the start prices' ratio
    np.testing.assert_array_equal(got[:, 1], got[:, 0] * rate)  # ETH/USD round x rate, bit for bit
    assert got[-1, 1] > 0.9 * 2_300.0 * 0.92 and wst[-1] < 0.11 * 2_300.0
    assert got[-1, 2] < 0.6 * 2_300.0                          # Maker's OSM reads the crashing market, an hour late
    # before the 2023-06-13 adapter change, Aave v3 read wstETH's own market
    before = drive(build(columns, ["WETH", "wstETH"], path[0], "2023-03-01"), path)
    assert before[-1, 1] < 0.15 * 2_300.0


def test_compound_v2_usdc_stays_one_dollar_through_a_depeg():
    # USDC to 0.87 and back over a day (the March 2023 low), ETH steady.
    t = np.arange(0, 86_400, 60.0)
    usdc = 1 - 0.13 * np.sin(np.pi * t / t[-1])
    path = np.stack([usdc, np.ones_like(t), np.full_like(t, 1_600.0)], axis=1)
    columns = [("compound-v2", "USDC"), ("comet", "USDC"), ("aave-v3", "USDC"), ("compound-v2", "USDT")]
    got = drive(build(columns, ["USDC", "USDT", "WETH"], path[0], "2023-03-10"), path, dt=60.0)
    assert (got[:, 0] == 1.0).all() and (got[:, 3] == 1.0).all()
    assert got[:, 1].min() < 0.88 and got[:, 2].min() < 0.88  # Chainlink USDC/USD follows the depeg


def test_each_chainlink_feed_updates_on_its_own_deviation_and_heartbeat():
    rng = np.random.default_rng(11)
    t = np.arange(3 * 24 * 60) * 60.0                         # three days of minutes
    eth = 2_000 * np.exp(np.cumsum(rng.normal(0, 0.002, len(t))))
    usdc = 1 + np.cumsum(rng.normal(0, 0.0003, len(t)))
    crv = 0.5 * np.exp(np.cumsum(rng.normal(0, 0.004, len(t))))
    path = np.stack([crv, usdc, eth], axis=1)
    columns = [("aave-v3", "WETH"), ("aave-v3", "USDC"), ("aave-v3", "CRV"), ("aave-v2", "USDC")]
    got = drive(build(columns, ["CRV", "USDC", "WETH"], path[0], "2023-06-01"), path, dt=60.0)
    rules = {0: (eth, 0.005, 3600), 1: (usdc, 0.0025, 86400), 2: (crv, 0.01, 86400)}
    for col, (series, deviation, heartbeat) in rules.items():
        want, updated = oracle_models.chainlink_updates(t, series, deviation, heartbeat)
        np.testing.assert_array_equal(got[:, col], want)
        assert 5 < updated.sum() < len(t) / 2
    # Aave v2: USDC/ETH at 1 % / 24 h, in ETH, times the ETH reference
    in_eth, _ = oracle_models.chainlink_updates(t, usdc / eth, 0.01, 86400)
    np.testing.assert_allclose(got[:, 3], in_eth * eth, rtol=1e-12)
    assert not np.array_equal(got[:, 1], got[:, 3])


def test_the_osm_is_one_hop_late_for_every_ilk_of_a_gem():
    rng = np.random.default_rng(2)
    t = np.arange(0, 5 * 3600, 60.0)
    path = np.stack([30_000 * np.exp(np.cumsum(rng.normal(0, 0.003, len(t)))),
                     2_000 * np.exp(np.cumsum(rng.normal(0, 0.003, len(t))))], axis=1)
    columns = [("maker", "WETH"), ("maker", "WETH"), ("maker", "WETH"), ("maker", "WBTC"), ("maker", "DAI")]
    oracles = build(columns, ["DAI", "WBTC", "WETH"][1:] + ["DAI"], path[0].tolist() + [1.0], "2020-03-12")
    got = drive(oracles, np.column_stack([path, np.ones(len(t))]), dt=60.0)
    assert oracles.labels == ["maker:WETH", "maker:WBTC", "maker:DAI"]
    for col, a in ((0, 1), (3, 0)):
        want = oracle_models.osm(t, path[:, a], 3600)
        known = ~np.isnan(want)
        np.testing.assert_array_equal(got[known, col], want[known])
        assert (got[~known, col] == path[0, a]).all()
    np.testing.assert_array_equal(got[:, 0], got[:, 2])
    assert (got[:, 4] == 1.0).all()                            # DAI at par


def test_capo_caps_a_jump_of_the_lst_rate_but_not_a_fall():
    columns = [("aave-v3", "wstETH")]
    ref = np.array([2_000.0, 2_300.0])
    capped = build(columns, ["WETH", "wstETH"], ref, "2024-06-01")
    uncapped = build(columns, ["WETH", "wstETH"], ref, "2023-07-01")
    for o in (capped, uncapped):
        o.update(0.0, ref)
        o.set_rate("wstETH", 1.15 * 1.10)                      # the rate contract jumps 10 %
    now = 600.0
    cap = 1.15 * (1 + 0.0968 * (now + 7 * 86_400) / YEAR)
    assert capped.update(now, ref)[0] == pytest.approx(2_000 * cap, rel=1e-12)
    assert uncapped.update(now, ref)[0] == pytest.approx(2_000 * 1.15 * 1.10, rel=1e-12)
    capped.set_rate("wstETH", 1.15 * 0.9)                      # a slashing passes through
    assert capped.update(2 * now, ref)[0] == pytest.approx(2_000 * 1.15 * 0.9, rel=1e-12)


def test_the_compound_v2_anchor_rejects_a_reporter_price_outside_its_bounds():
    # ETH drops 30 % in one block and stays: the reporter's round (deviation) is 30 % below the
    # 30-minute anchor TWAP, beyond the 15 % bound, so the view keeps $2,000; at the reporter's
    # next round (its 1 h heartbeat) the anchor has caught up and the price is accepted.
    t = np.arange(0, 2 * 3600, BLOCK)
    eth = np.where(t < 1_800, 2_000.0, 1_400.0)
    path = eth[:, None]
    got = drive(build([("compound-v2", "WETH"), ("comet", "WETH")], ["WETH"], path[0], "2022-06-01"), path)
    drop = int(np.argmax(t >= 1_800))
    assert (got[:drop + 1, 0] == 2_000.0).all() and got[drop, 1] == 1_400.0
    assert (got[t < 1_800 + 3_600, 0] == 2_000.0).all()
    assert (got[t >= 1_800 + 3_600, 0] == 1_400.0).all()
    # a 10 % drop is inside the bound: accepted at once
    small = np.where(t < 1_800, 2_000.0, 1_800.0)[:, None]
    got = drive(build([("compound-v2", "WETH")], ["WETH"], small[0], "2022-06-01"), small)
    assert got[drop, 0] == 1_800.0


def test_the_table_row_in_force_depends_on_the_start_date_and_every_row_has_a_source():
    assert row("aave_v3", "wstETH", np.datetime64("2023-03-01"))[0]["kind"] == "chainlink"
    assert row("aave_v3", "wstETH", np.datetime64("2023-07-01"))[0].get("capo_growth", 0) == 0
    assert row("aave_v3", "wstETH", np.datetime64("2024-06-01"))[0]["capo_growth"] == 0.0968
    assert row("compound_v2", "WETH", np.datetime64("2021-01-01"))[0]["anchor_tolerance"] == 0.20
    assert row("compound_v2", "WETH", np.datetime64("2021-07-01"))[0]["anchor_tolerance"] == 0.15
    assert row("aave_v3", "WETH", np.datetime64("2020-03-12"))[2] == "2023-01-27"   # first row, before launch
    for protocol, asset, day, params, source in ROWS:
        assert len(source) > 20 and np.datetime64(day) and params["kind"]


def test_set_on_one_feed_reaches_only_that_feed():
    columns = [("aave-v3", "WETH"), ("comet", "WETH"), ("aave-v3", "WBTC"), ("aave-v3.3", "WETH"), ("spark", "WETH"),
               ("aave-v3", "USDC")]
    assets, first = ["USDC", "WBTC", "WETH"], [1.0, 30_000.0, 2_000.0]

    def deviations(*sets):
        config = apply_overrides(RunConfig(scenario="s", lake="l"), list(sets))
        config = RunConfig.from_toml(config.to_toml())                    # through the TOML round trip
        o = build(columns, assets, first, "2024-06-01", config.oracle)
        return dict(zip(o.labels, o.deviation.tolist()))

    assert deviations("oracle.aave_v3.WETH.deviation=0.01") == {
        "aave_v3:WETH": 0.01, "comet:WETH": 0.005, "aave_v3:WBTC": 0.005, "spark:WETH": 0.005, "aave_v3:USDC": 0.0025}
    assert deviations("oracle.aave_v3.WETH.deviation=0.01", "oracle.WETH.deviation=0.02") == {
        "aave_v3:WETH": 0.01, "comet:WETH": 0.02, "aave_v3:WBTC": 0.005, "spark:WETH": 0.02, "aave_v3:USDC": 0.0025}
    assert set(deviations("oracle.deviation=0.03").values()) == {0.03}
    assert set(deviations("oracle.anchor_tolerance=0.3", "oracle.deviation=0.03").values()) == {0.03}
    # the run-wide field at its default is the default run: the table's own values stay;
    # oracle.*.KEY sets every feed even to the default value
    assert deviations("oracle.deviation=0.005") == deviations()
    assert deviations("oracle.deviation=0.005")["aave_v3:USDC"] == 0.0025
    assert set(deviations("oracle.*.deviation=0.005").values()) == {0.005}
    assert deviations("oracle.aave_v3.*.deviation=0.02", "oracle.aave_v3.WBTC.deviation=0.03") == {
        "aave_v3:WETH": 0.02, "comet:WETH": 0.005, "aave_v3:WBTC": 0.03, "spark:WETH": 0.005, "aave_v3:USDC": 0.02}


@pytest.mark.parametrize("key, closest", [("oracle.aave_v4.WETH.deviation", "aave_v3"),
                                          ("oracle.aave_v3.WETX.deviation", "WETH"),
                                          ("oracle.aave_v3.WETH.deviaton", "deviation"),
                                          ("oracle.WETH.hearbeat_seconds", "heartbeat_seconds"),
                                          ("oracle.anchor_tolerence", "anchor_tolerance"),
                                          ("oracle.comet.deviation", "oracle.comet.ASSET.deviation")])
def test_an_unknown_protocol_asset_or_key_is_one_line_with_the_closest_names(key, closest):
    from backtest.errors import InputError
    with pytest.raises(InputError) as err:
        apply_overrides(RunConfig(scenario="s", lake="l"), [f"{key}=0.01"])
    assert closest in str(err.value) and "\n" not in str(err.value)


@settings(max_examples=40)
@given(seed=st.integers(0, 2**32 - 1), kind=st.sampled_from(["osm", "twap"]),
       hop=st.sampled_from([600.0, 3600.0]), window=st.sampled_from([60.0, 1800.0, 7200.0]),
       steps=st.integers(1, 200), dt=st.sampled_from([12.0, 60.0, 600.0]))
def test_osm_and_twap_keep_the_bits_of_the_per_asset_oracles(seed, kind, hop, window, steps, dt):
    rng = np.random.default_rng(seed)
    path = 2_000 * np.exp(np.cumsum(rng.normal(0, 0.01, (steps, 2)), axis=0))
    config = OracleConfig(kind=kind, hop_seconds=hop, window_seconds=window)
    old = AssetOracles(["WBTC", "WETH"], config, path[0])
    new = build([("aave-v3", "WETH"), ("maker", "WBTC")], ["WBTC", "WETH"], path[0], "2024-01-01", config)
    for k in range(steps):
        for _ in range(int(rng.integers(1, 3))):
            seen = path[k] * rng.uniform(0.98, 1.02, 2)
            np.testing.assert_array_equal(new.update(k * dt, seen), old.update(k * dt, seen)[[1, 0]])
        old.observe(k * dt, path[k])
        new.observe(k * dt, path[k])


def test_the_docs_show_the_table_the_code_uses():
    from pathlib import Path
    from backtest.markets.oracle_table import table_markdown
    docs = (Path(__file__).resolve().parents[2] / "docs" / "markets.md").read_text()
    assert table_markdown() in docs


def test_an_osm_updated_per_block_and_observed_per_step_reads_the_observed_series():
    rng = np.random.default_rng(8)
    steps = np.arange(0, 4 * 3600, 60.0)
    eth = 2_000 * np.exp(np.cumsum(rng.normal(0, 0.004, len(steps))))
    oracles = build([("maker", "WETH"), ("compound-v2", "WETH")], ["WETH"], eth[:1], "2022-06-01")
    for k, t in enumerate(steps):
        for block in range(5):                                  # five 12 s blocks per 60 s step
            now = t + 12.0 * block
            got = oracles.update(now, eth[k:k + 1] * (1 + 0.001 * block))
            want = oracle_models.osm(steps[:k], eth[:k], 3600, at=[now])[0] if k else np.nan
            assert got[0] == (want if np.isfinite(want) else eth[0]), (k, block)
        oracles.observe(t, eth[k:k + 1])
    assert oracles.labels == ["maker:WETH", "compound_v2:WETH"] and oracles.kind.tolist() == ["osm", "anchored"]


def test_the_sample_book_gets_a_deployed_feed_for_every_reserve_column(small_lake):
    from backtest.run import make_config
    from backtest.inputs.book import load_inputs
    from backtest.markets.oracles import oracles_for
    from backtest.scenarios import load_scenario
    scenario = load_scenario("stylised-eth-crash")
    config = make_config(scenario, small_lake, [])
    inputs = load_inputs(config, scenario)
    oracles = oracles_for(inputs, config)
    book = inputs.book
    assert len(oracles.feed_of) == len(book.assets) and not oracles.notes
    assert {label.split(":")[0] for label in oracles.labels} >= {"aave_v3", "compound_v2", "maker", "comet"}
    prices = oracles.update(0.0, inputs.exogenous[0])
    read = oracles.kind[oracles.feed_of] != "fixed"                 # the others start at the path's prices
    np.testing.assert_allclose(prices[read], inputs.exogenous[0][book.reserve_asset][read], rtol=1e-12)
    kinds = dict(zip(oracles.labels, oracles.kind.tolist()))
    assert kinds.get("maker:WETH") == "osm" and kinds.get("compound_v2:USDC") == "fixed"


def test_the_real_march_2023_depeg_leaves_compound_v2_usdc_at_one_dollar_and_moves_chainlink_usdc():
    from pathlib import Path
    from backtest.ingest.price_files import read_price_file
    from backtest.ingest.price_series import divide
    real = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "real" / "usdc_depeg_binanceus_1m"
    if not real.exists():
        pytest.skip(f"real market data not found at {real}")
    usdc = divide(read_price_file(real / "BTCUSD_1m_20230301_20230321.csv"),
                  read_price_file(real / "BTCUSDC_1m_20230301_20230321.csv"), "USDC")
    window = (usdc.timestamp >= np.datetime64("2023-03-10")) & (usdc.timestamp < np.datetime64("2023-03-14"))
    price = usdc.price[window]
    price = price[np.isfinite(price)]
    path = np.stack([price, np.full(len(price), 1_500.0)], axis=1)
    columns = [("compound-v2", "USDC"), ("comet", "USDC"), ("aave-v3", "USDC")]
    got = drive(build(columns, ["USDC", "WETH"], path[0], "2023-03-10"), path, dt=60.0)
    assert price.min() == pytest.approx(0.875, abs=0.001)
    assert (got[:, 0] == 1.0).all()                                     # the Open Price Feed's FIXED_USD
    assert price.min() <= got[:, 1].min() <= price.min() * 1.0025       # USDC/USD within its 0.25 %
    np.testing.assert_array_equal(got[:, 1], got[:, 2])                 # one Chainlink USDC/USD for both


def test_a_feed_whose_start_price_is_missing_is_one_line_naming_it():
    from backtest.errors import InputError
    with pytest.raises(InputError, match="aave_v3:wstETH: the start price of WETH is nan") as err:
        build([("aave-v3", "wstETH")], ["WETH", "wstETH"], [np.nan, 2_300.0], "2024-06-01")
    assert "\n" not in str(err.value)
