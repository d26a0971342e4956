"""Replays on real paths behave like the crashes did (the sample book, real prices from the library).

The book is the project's synthetic sample at 5,000 accounts (seed 7), so a replay takes seconds;
the default 50,000-account sample also peaks in a steep-fall hour on Black Thursday, in ~1.5 min of CPU
(docs/prices-and-scenarios.md, "Validation on real paths").
"""

from __future__ import annotations

import argparse
import shlex
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tomli_w

pytest.importorskip("backtest.engine.replay")
from backtest.commands import import_prices  # noqa: E402
from backtest.config import RunConfig
from backtest.overrides import apply_overrides  # noqa: E402
from backtest.inputs.book import load_inputs  # noqa: E402
from backtest.engine.replay import replay  # noqa: E402
from backtest.errors import InputError  # noqa: E402
from backtest.markets.oracle_table import protocol_key  # noqa: E402
from backtest.sample.lake import write_sample_lake  # noqa: E402
from backtest.scenarios.library import load_scenario  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
REAL = REPO / ".." / "shared" / "data" / "real"
SCENARIOS = REPO / "data" / "scenarios"
BOOK_ACCOUNTS = 5000


def gets(name: str) -> list[str]:
    spec = tomllib.loads((SCENARIOS / f"{name}.toml").read_text())
    return [a["get"] for a in spec["assets"].values() if "get" in a]


def run_get(get: str, lake: Path) -> None:
    argv = [str(REAL / a.removeprefix("../shared/data/real/")) if a.startswith("../shared/") else a
            for a in shlex.split(get)]
    parser = argparse.ArgumentParser()
    import_prices.register(parser.add_subparsers())
    args = parser.parse_args(argv[1:] + ["--lake", str(lake)])
    args.func(args)


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    if not (REAL / "MANIFEST.md").exists():
        pytest.skip("real market data not found")
    lake = tmp_path_factory.mktemp("replays") / "lake"
    write_sample_lake(lake, n_accounts=BOOK_ACCOUNTS)
    for get in dict.fromkeys(g for n in ("black-thursday-2020", "may-19-2021", "usdc-depeg-2023") for g in gets(n)):
        run_get(get, lake)
    return lake


def run(lake: Path, scenario) -> tuple:
    s = load_scenario(scenario)
    config = apply_overrides(RunConfig(scenario=s.name, lake=str(lake)), s.parameters)
    inputs = load_inputs(config, s)
    out = replay(inputs, config)
    return inputs, out.liquidations.to_pandas(), out.steps.to_pandas()


_RUNS: dict = {}


def run_once(lake: Path, name: str) -> tuple:
    """Library scenarios are replayed once per test session and shared between tests."""
    if (lake, name) not in _RUNS:
        _RUNS[(lake, name)] = run(lake, name)
    return _RUNS[(lake, name)]


def steepest_hourly_falls(steps, asset: str, n: int) -> list:
    """The n hours whose close-to-close move fell the most, named by the hour's start (the bar
    10:00-11:00 is "10:00"): the hour in which the price fell."""
    p = steps[steps.asset == asset].set_index("timestamp")["price_exogenous"]
    hourly = p[p.index.minute == 0]
    return list(np.log(hourly).diff().nsmallest(n).index - pd.Timedelta(hours=1))


def peak_hour(liquidations):
    return liquidations.groupby(liquidations.timestamp.dt.floor("h"))["debt_repaid_usd"].sum().idxmax()


@pytest.mark.parametrize("name, fallen", [
    # Binance 1h closes: 2020-03-12 10->11 h -23.4 %, 03-12 23 h -> 03-13 00 h -16.6 %, 03-13 04->05 h -12.4 %.
    ("black-thursday-2020", ["2020-03-12 10:00", "2020-03-12 23:00", "2020-03-13 04:00"]),
    # 2021-05-19 12->13 h -14.0 %, 05-20 00->01 h -8.9 %, 05-19 23 h -> 05-20 00 h -8.6 %.
    ("may-19-2021", ["2021-05-19 12:00", "2021-05-20 00:00", "2021-05-19 23:00"]),
])
def test_liquidations_peak_in_the_hours_of_the_steepest_fall(lake, name, fallen):
    _, liquidations, steps = run_once(lake, name)
    falls = steepest_hourly_falls(steps, "WETH", 3)
    assert [str(t)[:16] for t in falls] == fallen            # the path is the real one
    assert len(liquidations) > 100
    assert peak_hour(liquidations) in falls                  # inside the hour that fell, not the hour after


def test_on_19_may_2021_liquidations_peak_in_the_hour_eth_fell_not_an_hour_later(lake):
    # Hourly closes stamped at the bar's end put the 12:00-13:00 fall at 13:00, and the replay's
    # peak there; walking the bar through its range moves it into the hour itself.
    _, liquidations, _ = run_once(lake, "may-19-2021")
    by_hour = liquidations.groupby(liquidations.timestamp.dt.floor("h"))["debt_repaid_usd"].sum()
    assert str(by_hour.idxmax())[:16] == "2021-05-19 12:00"
    assert by_hour.get(pd.Timestamp("2021-05-19 13:00", tz="UTC"), 0.0) < by_hour.max() / 2


def usdc_below_peg(steps):
    return steps[steps.asset == "USDC"].set_index("step")["price_exogenous"] < 1.0


def usdc_holders(book) -> set:
    """Accounts with USDC collateral in any protocol (one reserve column per protocol that lists USDC)."""
    columns = [j for j, a in enumerate(book.assets) if a == "USDC"]
    return set(book.accounts[book.collateral[:, columns].sum(axis=1) > 0])


def test_the_usdc_depeg_alone_liquidates_usdc_collateral_only_below_peg(lake, tmp_path):
    # The library scenario with everything but USDC (and DAI, which follows it) held at the book
    # (named constant: unnamed, they would take their own lake series or a beta to WETH).
    spec = tomllib.loads((SCENARIOS / "usdc-depeg-2023.toml").read_text())
    spec["assets"] = {k: v for k, v in spec["assets"].items() if k in ("USDC", "DAI")}
    spec["assets"].update({a: {"source": "constant"} for a in ("CRV", "USDT", "WBTC", "WETH", "wstETH")})
    spec["name"] = "usdc-depeg-2023-alone"
    path = tmp_path / "usdc-depeg-2023-alone.toml"
    path.write_text(tomli_w.dumps(spec))
    inputs, liquidations, steps = run(lake, path)
    holders = usdc_holders(inputs.book)
    hit = liquidations[liquidations.account.isin(holders)]
    below = usdc_below_peg(steps)
    assert len(hit) >= 3
    assert below.loc[hit.step].all()
    # More than 3 cents under: USDC/USD (minute data) first fell below 0.97 at 04:28 on 11 March,
    # the trough of the depeg; a path that liquidated at the peg would show prices near 1 here.
    usdc = steps[steps.asset == "USDC"].set_index("step")["price_exogenous"]
    assert (usdc.loc[hit.step] < 0.97).all()
    assert hit.timestamp.min() >= pd.Timestamp("2023-03-11 04:28", tz="UTC")


def test_in_the_full_depeg_scenario_every_liquidation_the_depeg_adds_is_below_peg(lake, tmp_path):
    # Counterfactual: the same scenario with USDC and DAI held at the book price. USDC-collateral
    # accounts that only the depeg run liquidates were liquidated by the depeg.
    inputs, full, steps = run_once(lake, "usdc-depeg-2023")
    spec = tomllib.loads((SCENARIOS / "usdc-depeg-2023.toml").read_text())
    spec["assets"] = {k: v for k, v in spec["assets"].items() if k not in ("USDC", "DAI")}
    spec["assets"].update({a: {"source": "constant"} for a in ("USDC", "DAI")})    # held at the book
    spec["name"] = "usdc-depeg-2023-pegged"
    path = tmp_path / "pegged.toml"
    path.write_text(tomli_w.dumps(spec))
    _, pegged, _ = run(lake, path)
    holders = usdc_holders(inputs.book)
    extra = full[full.account.isin(holders) & ~full.account.isin(set(pegged.account))]
    assert len(extra) >= 3
    # ... while the USDC price their protocol's oracle read was below peg (a feed that moves only on a
    # 1 % deviation, as Aave v2's USDC/ETH, can still show the depeg after the market came back)
    usdc = steps[steps.asset == "USDC"].set_index("step")["oracles"]
    read = [dict(usdc.loc[s])[protocol_key(p)] for s, p in zip(extra.step, extra.protocol)]
    assert all(r < 1.0 for r in read), read


def test_a_replay_with_no_prices_says_which_command_gets_them(tmp_path):
    lake = tmp_path / "lake"
    write_sample_lake(lake, n_accounts=200)
    s = load_scenario("black-thursday-2020")
    with pytest.raises(InputError) as err:
        load_inputs(RunConfig(scenario=s.name, lake=str(lake)), s)
    assert s.assets["WETH"]["get"] in str(err.value)


def test_same_inputs_same_liquidations(lake):
    _, a, _ = run_once(lake, "black-thursday-2020")
    _, b, _ = run(lake, "black-thursday-2020")
    assert len(a) > 0 and a.equals(b)


def test_from_missing_prices_to_a_replay_on_the_command_line(tmp_path, capsys):
    cli = pytest.importorskip("backtest.cli")
    if not (REAL / "MANIFEST.md").exists():
        pytest.skip("real market data not found")
    lake = tmp_path / "lake"
    assert cli.main(["sample-data", "--out", str(lake), "--accounts", "1000"]) == 0
    assert cli.main(["replay", "black-thursday-2020", "--lake", str(lake), "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    # every series the lake lacks, at once, each with the scenario's own `get`
    hints = [line.split("get it with: ")[1].strip() for line in err.splitlines() if "get it with: " in line]
    assert sorted(hints) == sorted(gets("black-thursday-2020")) and len(hints) >= 2
    for get in gets("black-thursday-2020"):
        run_get(get, lake)
    assert cli.main(["replay", "black-thursday-2020", "--lake", str(lake), "--out", str(tmp_path / "r")]) == 0
    assert (tmp_path / "r" / "liquidations.parquet").exists()


def test_a_real_eth_path_composes_with_a_stylised_crv_leg(lake, tmp_path):
    from backtest.lake.catalog import connect
    from backtest.scenarios.paths import exogenous_paths
    spec = tomllib.loads((SCENARIOS / "black-thursday-2020.toml").read_text())
    spec["name"], spec["title"] = "composed", "Black Thursday ETH with a STYLISED CRV leg"
    spec["assets"]["CRV"] = {"source": "stylised", "legs": [[6.0, -0.30], [12.0, 0.05]]}
    del spec["proxy"]["CRV"]                  # named now: its beta to WETH would be a second path
    path = tmp_path / "composed.toml"
    path.write_text(tomli_w.dumps(spec))
    s = load_scenario(path)
    assets, book = ["CRV", "WETH"], np.array([0.5, 2000.0])
    paths = exogenous_paths(connect(lake), s, assets, book)
    step = {h: int(h * 3600 / s.step_seconds) for h in (3, 6, 11, 18)}
    # CRV: log-linear legs. 3 h into a -30 % leg of 6 h: 0.7 ** 0.5 = 0.83666; 6 h: 0.70;
    # 18 h: 0.70 * 1.05 = 0.735.
    crv = paths[:, 0] / 0.5
    assert crv[[step[3], step[6], step[18]]] == pytest.approx([0.83666, 0.70, 0.735], abs=1e-5)
    # WETH: the real Binance closes relative to the first: 11:00 on 12 March, 132.91 / 194.61.
    assert paths[step[11], 1] / 2000.0 == pytest.approx(132.91 / 194.61)
