"""Two ilks of one gem in one replay: each barks at its own mat, fills its own hole, takes its own --set."""

import subprocess
import sys

import numpy as np
import pytest

from backtest.engine import reference, replay
from backtest.inputs.book import Book, ReplayInputs
from backtest.errors import InputError
from backtest.markets.router import Router
from backtest.markets.depth_book import USD
from backtest.markets.venue_kinds import V2Pool
from tests.engine_mechanisms.conftest import START, config

# reserves: DAI (the debt), WETH in ETH-A (mat 1.45, chop 1.13), WETH in ETH-C (mat 1.70, chop 1.13)
ILKS = ["", "ETH-A", "ETH-C"]
LT = np.array([0.0, 1 / 1.45, 1 / 1.70])
BONUS = np.array([0.0, 0.13, 0.13])


def inputs(vaults: dict, weth: float, steps: int = 1, pool=(0.001, 2.0)) -> ReplayInputs:
    """`vaults`: account -> (ilk, WETH, DAI owed); WETH at `weth` for `steps` 10-minute steps; a
    WETH/USD pool of `pool` (the default: no depth, so no keeper takes and auctions stay open)."""
    accounts = sorted(vaults)
    coll = np.zeros((len(accounts), 3))
    debt = np.zeros_like(coll)
    for i, a in enumerate(accounts):
        ilk, ink, owed = vaults[a]
        coll[i, ILKS.index(ilk)], debt[i, 0] = ink, owed
    book = Book(protocol=np.array(["maker"] * len(accounts), dtype=object), accounts=np.array(accounts),
                assets=["DAI", "WETH", "WETH"], reserve_protocol=["maker"] * 3, price_assets=["DAI", "WETH"],
                reserve_asset=np.array([0, 1, 1]), collateral=coll, debt=debt, ltv=LT.copy(),
                liquidation_threshold=LT.copy(), liquidation_bonus=BONUS.copy(), close_factor=np.ones(3),
                protocol_fee=np.zeros(3), prices=np.array([1.0, weth]), block_number=1, timestamp=START,
                reserve_ilk=list(ILKS))
    exo = np.tile([1.0, weth], (steps, 1))
    times = np.datetime64("2024-01-01T00:00:00", "us") + np.arange(steps) * np.timedelta64(600, "s")
    venues = [V2Pool(1, USD, pool[0], pool[1], 0.003, name="WETH-USD")]
    return ReplayInputs(book=book, pools=Router(exo[0].copy(), venues), times=times, exogenous=exo,
                        gas_gwei=np.zeros(steps), step_blocks=1 + np.arange(steps) * 50)


def barked(out) -> list[str]:
    ev = out.events.to_pandas()
    return sorted(ev.loc[ev["action"] == "bark", "account"])


@pytest.mark.parametrize("loop", [replay, reference])
def test_the_ilk_with_the_higher_mat_is_barked_at_a_price_the_other_survives(loop):
    # Both vaults: 10 WETH owing 10,000 DAI. At $1,600: ETH-A 10 x 1,600 / 1.45 = 11,034 >= 10,000, safe;
    # ETH-C 10 x 1,600 / 1.70 = 9,412 < 10,000, unsafe. Under one WETH reserve both would be the same.
    out = loop.replay(inputs({"0xa": ("ETH-A", 10.0, 10_000.0), "0xc": ("ETH-C", 10.0, 10_000.0)}, 1_600.0),
                      config())
    assert barked(out) == ["0xc"]
    bark = out.events.to_pandas().iloc[0]
    # tab = 10,000 x 1.13; top = 1,600 x buf 1.10 (ETH-C's Clipper, 2025-10-30 spell configuration)
    assert bark["tab"] == pytest.approx(11_300.0) and bark["price"] == pytest.approx(1_760.0)
    # at $1,400 ETH-A is unsafe too: 10 x 1,400 / 1.45 = 9,655 < 10,000
    low = loop.replay(inputs({"0xa": ("ETH-A", 10.0, 10_000.0), "0xc": ("ETH-C", 10.0, 10_000.0)}, 1_400.0),
                      config())
    assert barked(low) == ["0xa", "0xc"]


def test_each_ilk_fills_its_own_hole():
    # holes of 12,000 DAI for both ilks. At $1,400 all three vaults are unsafe; worst first: the two ETH-C
    # vaults (HF 14,000 / 1.7 / 10,000 = 0.82), then ETH-A (0.97). The first ETH-C bark puts tab 11,300 in
    # ETH-C's dirt; the second may add only 700 of tab, dart = 700 / 1.13 = 619 DAI < dust 3,500: refused
    # (a dusty partial). ETH-A's dirt is still 0: its vault is barked whole (tab 11,300 <= 12,000).
    vaults = {"0xa": ("ETH-A", 10.0, 10_000.0), "0xc1": ("ETH-C", 10.0, 10_000.0), "0xc2": ("ETH-C", 10.0, 10_000.0)}
    out = replay.replay(inputs(vaults, 1_400.0), config(None, "maker.ETH-A.hole=12000", "maker.ETH-C.hole=12000"))
    assert barked(out) == ["0xa", "0xc1"]
    # with one hole shared per asset (the old keying) ETH-A would have had 700 of room and waited too:
    # the same vaults under a hole of 12,000 for ETH-C alone and 700 for ETH-A show that refusal
    tight = replay.replay(inputs(vaults, 1_400.0), config(None, "maker.ETH-A.hole=700", "maker.ETH-C.hole=12000"))
    assert barked(tight) == ["0xc1"]


def test_set_on_an_ilk_reaches_that_ilk_only_and_set_on_the_asset_reaches_both():
    vaults = {"0xa": ("ETH-A", 10.0, 10_000.0), "0xc": ("ETH-C", 10.0, 10_000.0)}
    tops = lambda out: dict(zip(out.events.to_pandas()["account"], out.events.to_pandas()["price"]))  # noqa: E731
    # top = 1,400 x buf: ETH-C's buf set to 1.3 -> 1,820; ETH-A keeps 1.10 -> 1,540
    out = replay.replay(inputs(vaults, 1_400.0), config(None, "maker.ETH-C.buf=1.3"))
    assert tops(out) == {"0xa": pytest.approx(1_540.0), "0xc": pytest.approx(1_820.0)}
    # an asset's table reaches every ilk of that gem; an ilk's table comes after it and wins
    out = replay.replay(inputs(vaults, 1_400.0), config(None, "maker.WETH.buf=1.2", "maker.ETH-C.buf=1.3"))
    assert tops(out) == {"0xa": pytest.approx(1_680.0), "0xc": pytest.approx(1_820.0)}


def test_an_ilk_the_book_does_not_have_is_refused_naming_it():
    vaults = {"0xa": ("ETH-A", 10.0, 10_000.0)}
    with pytest.raises(InputError, match="maker.ETH-X: no Maker asset or ilk of that name"):
        replay.replay(inputs(vaults, 1_400.0), config(None, "maker.ETH-X.buf=1.3"))
    # listed ilks and default assets pass even when this book has none of them (a scenario's tables)
    replay.replay(inputs(vaults, 1_400.0), config(None, "maker.WBTC-A.buf=1.3", "maker.wstETH.tail=3600"))


def test_a_bad_ilk_in_set_is_one_line_on_the_command_line(small_lake):
    run = subprocess.run([sys.executable, "-m", "backtest", "replay", "--lake", str(small_lake), "--set",
                          "maker.ETH-Z.buf=1.3", "--out", str(small_lake.parent / "ilk-run")],
                         capture_output=True, text=True, timeout=300)
    assert run.returncode != 0
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and "maker.ETH-Z: no Maker asset or ilk of that name" in lines[0]
    assert "Traceback" not in run.stderr


def test_set_on_an_ilk_lands_in_its_own_scenario_table_and_bad_values_name_it():
    from backtest.config import RunConfig
    from backtest.overrides import apply_overrides
    c = apply_overrides(RunConfig(scenario="s", lake="l"), ["maker.WETH.tail=3600", "maker.ETH-B.buf=1.3"])
    assert c.scenario_spec["maker"] == {"WETH": {"tail": 3600.0}, "ETH-B": {"buf": 1.3}}
    with pytest.raises(InputError, match="column 'maker.ETH-B.curve'"):
        apply_overrides(RunConfig(scenario="s", lake="l"), ["maker.ETH-B.curve=zigzag"])
    with pytest.raises(InputError, match="column 'maker.ETH-B.bufff': unknown ETH-B parameter 'bufff'"):
        apply_overrides(RunConfig(scenario="s", lake="l"), ["maker.ETH-B.bufff=1.3"])
