"""`backtest import-gas`: the stablesims gas feed of 12 March 2020 into the lake, and onto a scenario's step grid."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from backtest.cli import main
from backtest.errors import InputError
from backtest.ingest.gas_files import read_stablesims_gas
from backtest.lake.catalog import connect
from backtest.scenarios.library import load_scenario
from backtest.scenarios.paths import MissingSeries, gas_path

REPO = Path(__file__).resolve().parents[2]
FILE = REPO / ".." / "shared" / "data" / "real" / "stablesims_feeds" / "gas" / "03-12-2020.json"


@pytest.fixture
def real():
    if not FILE.exists():
        pytest.skip("real market data not found")
    return FILE


def test_the_real_file_reads_in_gwei_per_ten_minutes(real):
    t = read_stablesims_gas(real, "90")
    gwei = t["gas_price_gwei"].to_numpy()
    assert t.num_rows == 144 and str(t["timestamp"][0]) == "2020-03-12 00:00:00+00:00"
    # MANIFEST.md / the scenario's note: p90 30 gwei at midnight, 280 at 15:00, the day's top 300
    assert gwei[0] == pytest.approx(30.0) and gwei[15 * 6] == pytest.approx(280.0) and gwei.max() == pytest.approx(300.0)
    assert read_stablesims_gas(real, "60")["gas_price_gwei"].to_numpy()[15 * 6] == pytest.approx(200.0)


def test_the_scenario_reads_the_imported_gas_on_its_grid_and_refuses_without_it(real, tmp_path):
    s = load_scenario("black-thursday-2020-gas")
    lake = tmp_path / "lake"
    (lake / "gas").mkdir(parents=True)
    with pytest.raises(MissingSeries, match="import-gas .*03-12-2020.json --percentile 90"):
        gas_path(connect(lake), s)
    assert main(["import-gas", str(real), "--percentile", "90", "--lake", str(lake)]) == 0
    gwei = gas_path(connect(lake), s)
    assert len(gwei) == s.n_steps and gwei[0] == pytest.approx(30.0) and gwei[15 * 6] == pytest.approx(280.0)


def test_bad_rows_are_refused_with_file_column_and_row(tmp_path):
    good = {"timestamp": "2020-03-12T00:00:00.000Z", "90.0 Perc": 3e10}
    cases = [([good, {"timestamp": "2020-03-12T00:10:00.000Z", "90.0 Perc": -1}], "column '90.0 Perc', row 2"),
             ([good, {"timestamp": "soon", "90.0 Perc": 1e9}], "column 'timestamp', row 2"),
             ([good, {"90.0 Perc": 1e9}], "column 'timestamp', row 2: missing"),
             ([good, dict(good)], "row 2: repeated time")]
    for k, (rows, where) in enumerate(cases):
        f = tmp_path / f"bad{k}.json"
        f.write_text(json.dumps({"schema": {}, "data": rows}))
        with pytest.raises(InputError, match=where):
            read_stablesims_gas(f, "90")
    f = tmp_path / "empty.json"
    f.write_text("{}")
    with pytest.raises(InputError, match="no `data` rows"):
        read_stablesims_gas(f, "90")
    assert np.isclose(read_stablesims_gas(_write(tmp_path, [good]), "90")["gas_price_gwei"][0].as_py(), 30.0)


def _write(folder: Path, rows) -> Path:
    f = folder / "ok.json"
    f.write_text(json.dumps({"data": rows}))
    return f
