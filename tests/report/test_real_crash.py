"""A report on a real crash: Black Thursday (Binance ETH/USDT and BTC/USDT hourly closes,
12-13 March 2020) replayed over the small synthetic book."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from backtest.cli import main

REAL = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "real"
KLINES = REAL / "binance_1h_ingiorn"


@pytest.fixture(scope="module")
def black_thursday(small_lake, tmp_path_factory) -> tuple[Path, Path]:
    if not (KLINES / "Binance_ETHUSDT_1h.csv").exists():
        pytest.skip(f"real data not found at {KLINES}")
    root = tmp_path_factory.mktemp("real")
    lake = root / "lake"
    shutil.copytree(small_lake, lake)
    for asset in ("ETH", "BTC"):
        assert main(["import-prices", str(KLINES / f"Binance_{asset}USDT_1h.csv"), "--asset", asset, "--fill",
                     "--lake", str(lake)]) == 0
    out = root / "bt"
    assert main(["replay", "black-thursday-2020", "--lake", str(lake), "--out", str(out), "--json"]) == 0
    assert main(["report", str(out), "--lake", str(lake)]) == 0
    return lake, out


def test_the_reported_eth_drawdown_is_the_binance_files(black_thursday):
    lake, out = black_thursday
    prices = pq.read_table(next((lake / "prices").glob("eth__*.parquet"))).to_pandas()
    window = prices[(prices["timestamp"] >= "2020-03-12") & (prices["timestamp"] <= "2020-03-14")].sort_values("timestamp")
    closes = window["price_usd"].to_numpy()
    # ~195 at midnight to the 13 March low: about half the price gone (MANIFEST: Binance low 86). The
    # path visits each bar's low and high (intra-bar paths), so its drawdown lies between the closes'
    # and the bars' extremes'.
    by_closes = float(np.max(1 - closes / np.maximum.accumulate(closes)))
    by_bars = 1 - window["low"].min() / window["high"].max()
    path = pq.read_table(out / "steps.parquet").to_pandas().query("asset == 'WETH'")["price_exogenous"].to_numpy()
    drawdown = float(np.max(1 - path / np.maximum.accumulate(path)))
    assert 0.45 < by_closes <= drawdown <= by_bars + 1e-12 < 0.60
    assert f"| WETH | {drawdown:.1%} |" in (out / "report.md").read_text()


def test_the_real_crash_report_is_complete(black_thursday):
    _, out = black_thursday
    html = (out / "report.html").read_text()
    assert "Black Thursday" in html and html.count("<img ") == 6    # prices, 2 x liquidations, bad debt, HF, pools
    text = (out / "report.md").read_text()
    assert "--lake" in text and "black-thursday-2020" in text
