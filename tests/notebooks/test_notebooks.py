"""The notebooks: committed without outputs, generated from notebooks/make_notebooks.py, and
each one runs top to bottom (papermill, with its parameters cell) on the small synthetic lake."""

from __future__ import annotations

import importlib.util
import json
import tomllib
from pathlib import Path

import nbformat
import pytest

REPO = Path(__file__).resolve().parents[2]
FOLDER = REPO / "notebooks"
NOTEBOOKS = sorted(FOLDER.glob("*.ipynb"))


def _generator():
    spec = importlib.util.spec_from_file_location("make_notebooks", FOLDER / "make_notebooks.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_three_notebooks_are_there():
    assert [p.name for p in NOTEBOOKS] == ["01-replay-a-crash.ipynb", "02-compare-parameter-sets.ipynb",
                                           "03-bring-your-own-data.ipynb"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_notebooks_have_no_outputs(path):
    nb = nbformat.read(path, as_version=4)
    dirty = [i for i, c in enumerate(nb.cells) if c.cell_type == "code" and (c.outputs or c.execution_count)]
    assert dirty == [], f"{path.name}: cells {dirty} have outputs; run `python notebooks/make_notebooks.py`"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_each_notebook_has_one_papermill_parameters_cell(path):
    nb = nbformat.read(path, as_version=4)
    tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1 and tagged[0].cell_type == "code" and "lake = " in tagged[0].source


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_notebooks_are_what_the_generator_writes(path):
    assert path.read_text() == _generator().build(path.name), \
        f"{path.name} was edited by hand or the generator changed: run `python notebooks/make_notebooks.py`"


def _execute(name: str, tmp_path: Path, **parameters) -> None:
    papermill = pytest.importorskip("papermill")
    papermill.execute_notebook(str(FOLDER / name), str(tmp_path / name), parameters=parameters,
                               kernel_name="python3", cwd=str(tmp_path), progress_bar=False)


def test_replay_notebook_runs_and_writes_the_report(small_lake, tmp_path):
    out = tmp_path / "crash"
    _execute("01-replay-a-crash.ipynb", tmp_path, lake=str(small_lake), out=str(out))
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["liquidations"] > 0
    assert (out / "report.html").stat().st_size > 50_000 and (out / "report.md").exists()


def test_compare_notebook_runs_both_sets(small_lake, tmp_path):
    out = tmp_path / "compare"
    _execute("02-compare-parameter-sets.ipynb", tmp_path, lake=str(small_lake), out=str(out),
             candidate={"liquidation_threshold.CRV": 0.30})
    config = tomllib.loads((out / "candidate" / "config.toml").read_text())
    assert config["market_overrides"] == {"liquidation_threshold.CRV": 0.30}
    assert "| liquidation_threshold.CRV | default | 0.3 |" in (out / "comparison.md").read_text()


def test_bring_your_own_data_notebook_round_trips_the_book_through_csv(small_lake, tmp_path):
    lake = tmp_path / "byod-lake"
    _execute("03-bring-your-own-data.ipynb", tmp_path, sample_lake=str(small_lake), lake=str(lake))
    from backtest.lake.io import read_table, table_files
    from backtest.lake.schemas import SCHEMAS
    present = [t for t in SCHEMAS if table_files(small_lake, t)]
    assert {"positions", "markets", "prices", "pools", "gas"} <= set(present)
    for table in present:
        assert read_table(lake, table).num_rows == read_table(small_lake, table).num_rows, table
    # the book survived CSV unchanged, so its replay is the sample's replay, number for number
    from backtest.cli import main
    assert main(["replay", "--lake", str(small_lake), "--out", str(tmp_path / "direct"), "--json"]) == 0
    direct = json.loads((tmp_path / "direct" / "metrics.json").read_text())
    via_csv = json.loads((tmp_path / "byod-replay" / "metrics.json").read_text())
    assert via_csv["bad_debt_usd"] == direct["bad_debt_usd"] and via_csv["liquidations"] == direct["liquidations"]
