"""A replay that lacks price series lists all of them in one error, each with the command that gets
it, including a series that stops before the scenario end (issue 20, item 6)."""

from __future__ import annotations

from backtest.cli import main

SCENARIO = """start = 2023-12-31T00:00:00Z
end = 2024-01-02T00:00:00Z
step_seconds = 3600
kind = "historical"
[assets.WETH]
source = "lake"
lake_asset = "ETH"
get = "backtest import-prices eth.csv --asset ETH"
[assets.WBTC]
source = "lake"
lake_asset = "BTC"
[assets.CRV]
source = "lake"
"""


def test_every_missing_series_is_listed_at_once_with_its_get_command(small_lake, tmp_path, capsys):
    scenario = tmp_path / "s.toml"
    scenario.write_text(SCENARIO)
    assert main(["replay", str(scenario), "--lake", str(small_lake), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    head, *lines = err.strip().splitlines()
    assert head.endswith("the lake lacks 3 price series this scenario needs:") and str(scenario) in head
    by_column = {line.split(":")[0].strip(): line for line in lines}
    assert sorted(by_column) == ["assets.CRV", "assets.WBTC", "assets.WETH"]
    # the scenario's own `get`, else fetch-prices over the window with a day either side
    assert by_column["assets.WETH"].endswith("get it with: backtest import-prices eth.csv --asset ETH")
    assert "no BTC price at or before the scenario start" in by_column["assets.WBTC"]
    assert "`backtest fetch-prices BTC --from 2023-12-30 --to 2024-01-03`" in by_column["assets.WBTC"]
    # the sample's prices end 2024-01-01 00:00: a day short of the end
    assert "CRV prices stop at 2024-01-01 00:00Z, long before the scenario end" in by_column["assets.CRV"]
    assert "`backtest fetch-prices CRV --from 2023-12-30 --to 2024-01-03`" in by_column["assets.CRV"]
    assert not (tmp_path / "out").exists()
