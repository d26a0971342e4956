"""`backtest report` end to end on real replays of the small synthetic lake."""

from __future__ import annotations

import base64
import json
import shlex
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest

from backtest.cli import main
from backtest.run import make_config
from backtest.report.build import reproduce_command
from backtest.report.results import load_results
from backtest.report.tables import comparison, relative_change
from backtest.scenarios.library import load_scenario


class Page(HTMLParser):
    """Every tag's attributes, to check what the page would fetch."""

    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def parse(path: Path) -> Page:
    page = Page()
    page.feed(path.read_text())
    return page


def test_the_report_is_one_file_that_fetches_nothing(baseline_report):
    out = baseline_report
    page = parse(out)
    images = [a["src"] for t, a in page.tags if t == "img"]
    # price paths, liquidations over time (by round, by asset), bad debt, HF histogram, pool depth
    assert len(images) == 6
    assert all(src.startswith("data:image/svg+xml;base64,") for src in images)
    assert all(base64.b64decode(src.split(",", 1)[1]).startswith(b"<svg") for src in images)
    fetching = [(t, a) for t, a in page.tags for k in ("src", "href") if k in a
                and not a[k].startswith(("data:", "#"))]
    assert fetching == []
    assert not [t for t, a in page.tags if t in ("link", "iframe", "object", "embed")]
    assert out.with_suffix(".md").exists()


def test_the_summary_carries_the_runs_own_numbers(baseline, baseline_report):
    text = baseline_report.with_suffix(".md").read_text()
    m = json.loads((baseline / "metrics.json").read_text())
    assert f"| bad debt at the end | ${m['bad_debt_usd']:,.0f} |" in text
    assert f"| peak bad debt | ${m['peak_bad_debt_usd']:,.0f} |" in text
    assert f"| liquidations | {m['liquidations']:,} |" in text
    assert f"| cascade rounds (largest round within a step) | {m['cascade_rounds']} |" in text
    assert f"| cascade depth (consecutive steps with induced liquidations) | {m['cascade_depth']} |" in text
    assert "SYNTHETIC" in text
    # the health-factor table counts every borrowing account before the crash, none below 1
    rows = [line.split("|") for line in text.splitlines() if line.startswith("| < 1.00") or
            line.startswith("| 1.") or line.startswith("| 2.") or line.startswith("| >= 5")]
    before = [int(r[2].strip().replace(",", "")) for r in rows]
    assert sum(before) == m["accounts_with_debt"] and before[0] == 0


def test_a_run_without_liquidations_still_reports(small_lake, tmp_path):
    out = tmp_path / "quiet"
    # no liquidation can clear a trillion-dollar profit threshold
    assert main(["replay", "--lake", str(small_lake), "--out", str(out), "--json",
                 "--set", "liquidator.min_profit_usd=1e12", "--set", "competitors=none",
                 "--set", "comet.absorb=when_buying_pays"]) == 0
    assert main(["report", str(out)]) == 0
    html = (out / "report.html").read_text()
    assert "No account was liquidated in this run." in html
    assert len([t for t, a in parse(out / "report.html").tags if t == "img"]) == 4    # no liquidation figures
    assert "0 liquidations on 0 of" in (out / "report.md").read_text()


def test_the_same_run_gives_a_byte_identical_report(baseline, baseline_report, tmp_path):
    assert main(["report", str(baseline), "--out", str(tmp_path / "again.html")]) == 0
    assert (tmp_path / "again.html").read_bytes() == baseline_report.read_bytes()
    assert (tmp_path / "again.md").read_bytes() == baseline_report.with_suffix(".md").read_bytes()


def test_the_comparison_names_the_changed_parameter_and_the_change(baseline, thin_pools, compare_report):
    text = compare_report.with_suffix(".md").read_text()
    assert "| pool_depth_scale | 1.0 | 0.1 |" in text
    base = json.loads((baseline / "metrics.json").read_text())
    thin = json.loads((thin_pools / "metrics.json").read_text())
    change = (thin["collateral_seized_usd"] - base["collateral_seized_usd"]) / base["collateral_seized_usd"]
    assert f"| collateral seized | ${base['collateral_seized_usd']:,.0f} | ${thin['collateral_seized_usd']:,.0f} | " \
           f"{change:+.1%} |" in text
    assert len([t for t, a in parse(compare_report).tags if t == "img"]) == 7   # + the comparison figure


def test_relative_change_is_none_where_a_percentage_would_lie():
    # 50 -> 75 is +50 %; from 0 there is no percentage; a missing value has none either
    assert relative_change(50, 75) == 0.5
    assert relative_change(0, 10) is None and relative_change(None, 3) is None


def test_the_comparison_table_puts_the_baseline_first():
    # bad debt 200 -> 150 is -25.0 %; liquidations 10 -> 10 is +0.0 %
    table = comparison(["base", "other"], [{"bad_debt_usd": 200.0, "liquidations": 10},
                                           {"bad_debt_usd": 150.0, "liquidations": 10}])
    row = table.set_index("metric")
    assert row.loc["bad debt at the end"].tolist() == ["$200", "$150", "-25.0%"]
    assert row.loc["liquidations"].tolist() == ["10", "10", "+0.0%"]


def test_the_reproduce_command_rebuilds_the_same_configuration(thin_pools):
    run = load_results(thin_pools)
    words = shlex.split(reproduce_command(run.config))
    sets = [words[i + 1] for i, w in enumerate(words) if w == "--set"]
    lake = words[words.index("--lake") + 1]
    rebuilt = make_config(load_scenario(words[2]), lake, sets)
    assert "pool_depth_scale=0.1" in sets
    assert rebuilt.run_id() == run.config.run_id()


def _break_liquidations(folder: Path, tmp_path: Path) -> Path:
    broken = tmp_path / "broken"
    broken.mkdir()
    for f in folder.iterdir():
        (broken / f.name).write_bytes(f.read_bytes())
    t = pq.read_table(broken / "liquidations.parquet").drop_columns(["round"])
    pq.write_table(t, broken / "liquidations.parquet")
    return broken


@pytest.mark.parametrize("case", ["no folder", "missing column", "not html", "bad compare"])
def test_bad_input_is_one_line_a_nonzero_exit_and_no_report(case, baseline, tmp_path, capsys):
    out = tmp_path / "out" / "r.html"
    args = {"no folder": [str(tmp_path / "nothing")],
            "missing column": [str(_break_liquidations(baseline, tmp_path)) if case == "missing column" else ""],
            "not html": [str(baseline)],
            "bad compare": [str(baseline), "--compare", str(tmp_path)]}[case]
    extra = ["--out", str(out.with_suffix(".pdf") if case == "not html" else out)]
    assert main(["report", *args, *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("backtest report: error: ") and "\n" not in err
    expected = {"no folder": "results folder not found", "missing column": "column 'round'",
                "not html": ".html", "bad compare": "no config.toml"}[case]
    assert expected in err
    assert not out.exists() and not out.with_suffix(".md").exists()


def _moved_without_lake(baseline, tmp_path, keep_accounts: bool):
    moved = tmp_path / "elsewhere"
    moved.mkdir()
    for f in baseline.iterdir():
        if keep_accounts or f.name != "accounts.parquet":
            (moved / f.name).write_bytes(f.read_bytes())
    cfg = (moved / "config.toml").read_text()
    lake_line = next(line for line in cfg.splitlines() if line.startswith("lake = "))
    (moved / "config.toml").write_text(cfg.replace(lake_line, 'lake = "gone"'))
    return moved


def test_with_accounts_parquet_the_report_needs_no_lake(baseline, tmp_path, capsys):
    moved = _moved_without_lake(baseline, tmp_path, keep_accounts=True)
    assert main(["report", str(moved)]) == 0
    assert "not found" not in capsys.readouterr().err
    assert len([t for t, a in parse(moved / "report.html").tags if t == "img"]) == 6   # with the HF histogram


def test_without_the_lake_the_report_still_draws_and_says_what_is_missing(baseline, tmp_path, capsys):
    moved = _moved_without_lake(baseline, tmp_path, keep_accounts=False)   # an older results folder
    assert main(["report", str(moved)]) == 0
    assert "not found" in capsys.readouterr().err
    html = (moved / "report.html").read_text()
    assert "pass --lake" in html
    assert len([t for t, a in parse(moved / "report.html").tags if t == "img"]) == 5   # no HF histogram


def test_a_sweep_report_has_the_heatmap_and_every_set_against_the_baseline(sweep_folder, tmp_path):
    assert main(["report", str(sweep_folder), "--out", str(tmp_path / "s.html")]) == 0
    # the heatmap, and bad debt across the two paths of each set
    assert len([t for t, a in parse(tmp_path / "s.html").tags if t == "img"]) == 2
    text = (tmp_path / "s.md").read_text()
    # baseline: mean of 100 and 300 = 200; set 1: mean 1000, +800 against the baseline on the same paths
    assert "| baseline | 0.45 | 1 | 2 | $200 |" in text
    assert "| set 1 | 0.35 | 0.25 | 2 | $1,000 |" in text and "| +$800 |" in text
    assert "--grid liquidation_threshold.CRV=0.35,0.41 --grid pool_depth_scale=0.25,1" in text


def test_the_sweep_heatmap_leaves_the_off_grid_baseline_out(sweep_folder):
    from backtest.report.figures import heatmap_grid
    from backtest.report.sweep import heatmap_table, load_sweep
    sweep = load_sweep(sweep_folder)
    assert sweep.grid_keys == ["liquidation_threshold.CRV", "pool_depth_scale"]
    grid = heatmap_grid(heatmap_table(sweep), *sweep.grid_keys, "bad_debt_usd")
    # the baseline's LT 0.45 would add a third, mostly empty column; (0.41, 1.0) is set 4: mean(100, 300)
    assert grid.loc[1.0, 0.41] == 200 and grid.loc[0.25, 0.35] == 1000 and grid.shape == (2, 2)


def test_sweep_sets_are_labelled_by_their_grid_values(sweep_folder):
    from backtest.report.sweep import load_sweep, set_labels
    labels = set_labels(load_sweep(sweep_folder))
    assert labels[0] == "baseline"
    assert labels[1] == "liquidation_threshold.CRV=0.35, pool_depth_scale=0.25"


def test_the_heatmap_cells_are_means_over_paths():
    from backtest.report.figures import heatmap_grid
    # two paths at (lt 0.3, depth 1): bad debt 10 and 30 -> mean 20; one path elsewhere
    t = pd.DataFrame({"lt": [0.3, 0.3, 0.4, 0.3], "depth": [1.0, 1.0, 1.0, 0.5], "bad_debt_usd": [10, 30, 5, 7]})
    grid = heatmap_grid(t, "lt", "depth", "bad_debt_usd")
    assert grid.loc[1.0, 0.3] == 20 and grid.loc[1.0, 0.4] == 5 and grid.loc[0.5, 0.3] == 7
    assert list(grid.index) == [0.5, 1.0] and list(grid.columns) == [0.3, 0.4]


def test_an_accounts_table_in_the_folder_replaces_the_lake(small_lake, baseline, tmp_path, capsys):
    """When the engine writes accounts.parquet, the HF figure needs no lake."""
    from backtest.lake.io import write_parquet
    from backtest.report.accounts import accounts_before_after, load_lake_view
    import pyarrow as pa
    results = load_results(baseline)
    table, _ = accounts_before_after(results, load_lake_view(results, small_lake))
    moved = tmp_path / "with-accounts"
    moved.mkdir()
    for f in baseline.iterdir():
        (moved / f.name).write_bytes(f.read_bytes())
    cfg = (moved / "config.toml").read_text()
    lake_line = next(line for line in cfg.splitlines() if line.startswith("lake = "))
    (moved / "config.toml").write_text(cfg.replace(lake_line, 'lake = "gone"'))
    write_parquet(pa.Table.from_pandas(table, preserve_index=False), moved / "accounts.parquet")
    assert main(["report", str(moved)]) == 0
    assert "not found" not in capsys.readouterr().err
    assert len([t for t, a in parse(moved / "report.html").tags if t == "img"]) == 6
    text = (moved / "report.md").read_text()
    borrowing = int((table["debt_usd_before"] > 0).sum())
    rows = [line.split("|") for line in text.splitlines() if line.startswith(("| < 1.00", "| 1.", "| 2.", "| >= 5"))]
    assert sum(int(r[2].strip().replace(",", "")) for r in rows) == borrowing
