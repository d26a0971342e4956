"""Every asset of the book moves: its own lake series, a beta to a named asset, and flat only when said."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pyarrow as pa
import pytest

from backtest.errors import InputError
from backtest.lake.catalog import connect
from backtest.lake.io import write_table
from backtest.scenarios.library import load_scenario
from backtest.scenarios.moves import estimate_beta
from backtest.scenarios.paths import scenario_paths

T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)


def hourly(lake, asset: str, start: datetime, log_returns: np.ndarray, first: float = 100.0) -> None:
    prices = first * np.exp(np.concatenate([[0.0], np.cumsum(log_returns)]))
    ts = [start + timedelta(hours=h) for h in range(len(prices))]
    write_table(lake, "prices", pa.table({"asset": [asset] * len(ts), "timestamp": pa.array(ts, pa.timestamp("us", "UTC")),
                                          "price_usd": prices, "source": ["test"] * len(ts)}),
                filename=f"{asset}.parquet")


def scenario(tmp_path, kind: str, extra: str = "", weth: str = 'source = "lake"\nlake_asset = "ETH"'):
    path = tmp_path / "s.toml"
    path.write_text(f"""name = "s"
kind = "{kind}"
start = 2024-03-01T00:00:00Z
end = 2024-03-02T00:00:00Z
step_seconds = 3600
[assets.WETH]
{weth}
{extra}""")
    return load_scenario(path)


@pytest.fixture
def lake(tmp_path):
    """ETH hourly from January to March 2024; CRV in January and February only, with returns
    1.5 x ETH's plus noise (seed 5); BTC over the whole span."""
    rng = np.random.default_rng(5)
    lake = tmp_path / "lake"
    eth = rng.normal(0, 0.01, 24 * 70)
    hourly(lake, "ETH", T0, eth)
    hourly(lake, "CRV", T0, 1.5 * eth[:24 * 50] + rng.normal(0, 0.004, 24 * 50), first=0.5)
    hourly(lake, "BTC", T0, rng.normal(0, 0.01, 24 * 70), first=40_000)
    return lake


ASSETS = ["CRV", "USDC", "WBTC", "WETH"]


def test_an_unnamed_asset_moves_with_its_estimated_beta_and_the_summary_says_how(lake, tmp_path):
    s = scenario(tmp_path, "historical")
    out = scenario_paths(connect(lake), s, ASSETS, np.array([1.0, 1.0, 30_000.0, 2_000.0]))
    crv = {m.asset: m for m in out.sources.moves}["CRV"]
    assert crv.how == "beta" and crv.proxy == "WETH" and crv.beta == pytest.approx(1.5, abs=0.03)
    assert crv.returns == 24 * 50                   # every CRV return pairs with an ETH one
    weth = out.prices[:, 3] / 2_000.0
    assert np.allclose(out.prices[:, 0], weth ** crv.beta) and weth.min() < 0.99   # it moves, and with WETH
    assert "CRV: beta 1.5" in out.sources.summary() and "2024-01-01T01:00Z .. 2024-02-20T00:00Z" in crv.detail


def test_an_unnamed_asset_with_its_own_series_for_the_window_uses_it(lake, tmp_path):
    s = scenario(tmp_path, "historical")
    out = scenario_paths(connect(lake), s, ASSETS, np.array([1.0, 1.0, 30_000.0, 2_000.0]))
    moves = {m.asset: m for m in out.sources.moves}
    assert (moves["WBTC"].how, moves["WBTC"].detail) == ("own series", "(lake BTC)")
    btc = connect(lake).sql("SELECT price_usd FROM prices WHERE asset = 'BTC' AND timestamp >= '2024-03-01' "
                            "ORDER BY timestamp LIMIT 25").fetchnumpy()["price_usd"]
    assert np.allclose(out.prices[:, 2], 30_000.0 * btc / btc[0])


def test_a_stated_beta_is_used_as_stated(lake, tmp_path):
    s = scenario(tmp_path, "stylised", '[proxy]\nCRV = {asset = "WETH", beta = 1.6}\n',
                 weth='source = "stylised"\nlegs = [[12.0, -0.5], [12.0, 0.0]]')
    out = scenario_paths(connect(lake), s, ASSETS, np.array([0.5, 1.0, 30_000.0, 2_000.0]))
    assert out.prices[12, 3] == pytest.approx(1_000.0)
    assert out.prices[12, 0] == pytest.approx(0.5 * 0.5 ** 1.6)
    moves = {m.asset: m for m in out.sources.moves}
    assert moves["CRV"].detail == "1.6 to WETH (stated in the scenario)"
    assert moves["WBTC"].how == "flat" and "stylised" in moves["WBTC"].detail   # said, not silent


def test_a_stablecoin_without_a_series_stays_at_its_peg_and_is_listed(lake, tmp_path):
    s = scenario(tmp_path, "historical")
    out = scenario_paths(connect(lake), s, ASSETS, np.array([1.0, 1.0, 30_000.0, 2_000.0]))
    assert np.all(out.prices[:, 1] == 1.0)
    assert "USDC: flat (USD stablecoin held at its peg" in out.sources.summary()


def test_a_beta_needs_overlapping_hours(lake):
    assert estimate_beta(connect(lake), "CRV", "ETH", (T0 + timedelta(days=55), T0 + timedelta(days=60)), T0) is None
    fit = estimate_beta(connect(lake), "CRV", "ETH", (T0, T0 + timedelta(days=10)), T0)
    assert fit[1] == 240 and fit[0] == pytest.approx(1.5, abs=0.05)


@pytest.mark.parametrize("proxy, message", [
    ('CRV = {asset = "WBTC", beta = 1.0}', "proxy.CRV.asset"),
    ('CRV = {asset = "WETH", beta = "high"}', "proxy.CRV.beta"),
    ('CRV = {asset = "WETH", window = ["2024-02-01T00:00:00Z", "2024-01-01T00:00:00Z"]}', "proxy.CRV.window"),
    ('WETH = {asset = "WETH"}', "proxy.WETH"),
])
def test_a_bad_proxy_is_refused_naming_its_key(tmp_path, proxy, message):
    with pytest.raises(InputError, match=message.replace(".", r"\.")):
        scenario(tmp_path, "historical", f"[proxy]\n{proxy}\n")


@pytest.mark.parametrize("name, window", [
    ("black-thursday-2020", ("2021-04-04", "2021-07-04")),
    ("aug-5-2024", ("2023-10-01", "2023-12-31")),
    ("oct-10-2025", ("2023-10-01", "2023-12-31")),
])
def test_the_library_betas_are_the_ones_the_real_hourly_files_give(real, tmp_path, name, window):
    import argparse as ap

    from backtest.commands import import_prices
    lake = tmp_path / "lake"
    for pair, asset in (("ETHUSDT", "ETH"), ("CRVUSDT", "CRV")):
        parser = ap.ArgumentParser()
        import_prices.register(parser.add_subparsers())
        args = parser.parse_args(["import-prices", str(real / "binance_1h_misrori" / f"{pair}_1h.csv"), "--asset",
                                  asset, "--lake", str(lake)])
        args.func(args)
    stated = load_scenario(name).proxy["CRV"]
    a, b = (datetime.fromisoformat(w).replace(tzinfo=timezone.utc) for w in window)
    beta, n, _ = estimate_beta(connect(lake), "CRV", "ETH", (a, b), a)
    assert stated["asset"] == "WETH" and n > 2000
    assert stated["beta"] == pytest.approx(beta, abs=0.005)


def test_the_replay_summary_lists_how_unnamed_assets_moved(tmp_path, capsys):
    from backtest import cli
    from backtest.sample.lake import write_sample_lake
    write_sample_lake(tmp_path / "lake", n_accounts=200)
    assert cli.main(["replay", "--lake", str(tmp_path / "lake"), "--out", str(tmp_path / "r")]) == 0
    out = capsys.readouterr().out
    assert "unnamed assets  DAI: flat (USD stablecoin held at its peg" in out
    assert "USDT: flat" in out and "WETH:" not in out          # the stylised crash names WETH
