"""The report says the unit it drew in, claims no unit it could not draw in, shows the cascade of
the worst steps round by round, and flags every report made from a synthetic lake."""

from __future__ import annotations

import pandas as pd
import pytest

from backtest.cli import main
from backtest.report import cascade as cs
from backtest.report import figures as fg
from backtest.report.build import pool_depth_caption, synthetic_banner


def _steps(bad: list[float], assets=("WETH", "CRV"), sold=(2.0, 100.0), price_amm=True) -> pd.DataFrame:
    rows = []
    for k, b in enumerate(bad):
        for a, s in zip(assets, sold):
            rows.append(dict(step=k, timestamp=pd.Timestamp("2020-03-12", tz="UTC") + pd.Timedelta(minutes=10 * k),
                             asset=a, price_exogenous=100.0, price_market=100.0, price_oracle=100.0,
                             price_amm=99.0 if price_amm else float("nan"), sold=s, sold_usd=s * 99.0,
                             liquidations=0, bad_debt_usd=b))
    return pd.DataFrame(rows)


def _drawn(ax) -> float:
    return max(max(line.get_ydata()) for line in ax.get_lines())


@pytest.mark.parametrize("peak, unit, shown", [(51.8e6, "USD m", 51.8), (47_400.0, "USD k", 47.4),
                                              (900.0, "USD", 900.0), (2.5e9, "USD bn", 2.5)])
def test_the_bad_debt_axis_is_in_the_unit_its_title_names(peak, unit, shown):
    fig = fg.bad_debt(_steps([0.0, peak, peak * 0.9]), None)
    ax = fig.axes[0]
    assert f"({unit}," in ax.get_title()
    assert _drawn(ax) == pytest.approx(shown)


def test_pool_depth_in_multiples_only_for_assets_whose_depth_is_known():
    steps = _steps([0.0, 0.0], sold=(2.0, 100.0))
    fig = fg.pool_depth(steps, {"WETH": 4.0})             # CRV's depth unknown: not on the × depth panel
    left = fig.axes[0]
    assert "× its starting 2 % depth" in left.get_title()
    assert [line.get_label() for line in left.get_lines()] == ["WETH"]
    assert _drawn(left) == pytest.approx(4.0 / 4.0)        # 2 + 2 units sold over 4 units of depth
    caption = pool_depth_caption(steps, {"WETH": 4.0})
    assert "multiples" in caption and "not drawn, depth unknown: CRV" in caption


def test_without_depth_the_figure_and_caption_say_usd():
    steps = _steps([0.0, 0.0], sold=(2.0e4, 1.0e4))
    fig = fg.pool_depth(steps, None)
    left = fig.axes[0]
    assert left.get_title().endswith("(USD m)")
    assert _drawn(left) == pytest.approx(2 * 2.0e4 * 99.0 / 1e6)
    caption = pool_depth_caption(steps, None)
    assert "in USD" in caption and "multiples of the 2 % depth" not in caption.replace("not in multiples", "")


def test_liquidations_over_time_are_binned_and_say_the_bin():
    times = fg.step_times(_steps([0.0] * 288))             # 48 h of 10-minute steps
    bins, width = fg.time_bins(times)
    assert len(bins) == 48 and width == "hour"
    assert fg.time_bins(times[:30])[1] == "10 min"


def test_the_cascade_view_is_round_by_round_for_the_worst_steps():
    ts = pd.Timestamp("2020-03-12", tz="UTC")
    liq = pd.DataFrame([
        # step 5: 3 rounds; WETH is the main collateral, its oracle falls 100 -> 90 -> 80
        dict(step=5, round=0, collateral_asset="WETH", collateral_seized_usd=600.0, collateral_price=100.0),
        dict(step=5, round=1, collateral_asset="WETH", collateral_seized_usd=300.0, collateral_price=90.0),
        dict(step=5, round=1, collateral_asset="CRV", collateral_seized_usd=50.0, collateral_price=0.5),
        dict(step=5, round=2, collateral_asset="WETH", collateral_seized_usd=100.0, collateral_price=80.0),
        dict(step=9, round=0, collateral_asset="CRV", collateral_seized_usd=200.0, collateral_price=0.4),
        dict(step=2, round=0, collateral_asset="CRV", collateral_seized_usd=10.0, collateral_price=0.6),
    ]).assign(account=lambda d: [f"0x{i}" for i in range(len(d))], timestamp=ts)
    assert cs.worst_steps(liq, 2) == [5, 9]
    r = cs.rounds_of(liq, 5)
    assert r.attrs["asset"] == "WETH"
    assert r["seized_usd"].tolist() == [600.0, 350.0, 100.0]
    assert r["cumulative_usd"].tolist() == [600.0, 950.0, 1050.0]
    assert r["price"].tolist() == [100.0, 90.0, 80.0]
    table = cs.table(liq, [5])
    assert table.loc[0, "rounds"] == 3 and table.loc[0, "its oracle, first to last round"] == "-20.0%"
    fig = cs.figure(liq, [5, 9])
    bars = fig.axes[0].patches
    assert [b.get_y() for b in bars] == pytest.approx([0.0, 0.6, 0.95])   # a waterfall, in USD k
    assert [b.get_height() for b in bars] == pytest.approx([0.6, 0.35, 0.1])
    assert "(USD k)" in fig.axes[0].get_ylabel()


def test_a_sweep_from_a_synthetic_lake_carries_the_banner(small_lake, sweep_folder, tmp_path):
    toml = (sweep_folder / "sweep.toml").read_text()
    (sweep_folder / "sweep.toml").write_text(toml.replace('lake = "lake"', f'lake = "{small_lake}"'))
    assert synthetic_banner(small_lake)
    assert main(["report", str(sweep_folder), "--out", str(tmp_path / "s.html")]) == 0
    assert "SYNTHETIC data" in (tmp_path / "s.html").read_text()
    assert "SYNTHETIC data" in (tmp_path / "s.md").read_text()


def test_a_sweep_whose_lake_is_gone_has_no_banner(sweep_folder, tmp_path):
    assert main(["report", str(sweep_folder), "--out", str(tmp_path / "s.html")]) == 0
    assert "SYNTHETIC" not in (tmp_path / "s.html").read_text()


def test_a_sweep_report_shows_var_and_lar_per_market(sweep_folder, tmp_path):
    assert main(["report", str(sweep_folder), "--out", str(tmp_path / "s.html")]) == 0
    text = (tmp_path / "s.md").read_text()
    assert "### VaR and LaR per market" in text
    # set 1's paths: bad debt 900 and 1,100 -> p95 = 900 + 0.95 x 200 = 1,090; no no-feedback run: "–"
    assert "| set 1 | all markets | $1,090 | – | – |" in text
