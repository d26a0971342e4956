"""An ilk's values that the contracts cannot hold (a stairstep `step` of 0, a `cut` above 1, a `buf` of 0) are
refused where the ilk's parameters are resolved (MakerParams.from_spec), on one line naming the scenario
and the table and key that set them, before any auction divides by them."""

import math
import subprocess
import sys

import pytest

from backtest.config import RunConfig
from backtest.engine import reference, replay
from backtest.errors import InputError
from backtest.overrides import apply_overrides
from backtest.scenarios.library import SCENARIO_DIR
from tests.engine_ilks.test_ilk_auctions import barked, inputs
from tests.engine_mechanisms.conftest import config

VAULTS = {"0xa": ("ETH-A", 10.0, 10_000.0), "0xc": ("ETH-C", 10.0, 10_000.0)}     # both unsafe at $1,400


@pytest.mark.parametrize("loop", [replay, reference])
@pytest.mark.parametrize("table, column, why", [
    ({"WETH": {"step": 0}}, "maker.WETH.step", "step must be > 0 seconds (found 0.0)"),
    ({"ETH-C": {"step": -90}}, "maker.ETH-C.step", "step must be > 0 seconds (found -90.0)"),
    ({"WETH": {"step": math.nan}}, "maker.WETH.step", "step must be > 0 seconds (found nan)"),
    ({"WETH": {"step": 0}, "ETH-C": {"step": 60}}, "maker.WETH.step", "step must be > 0"),   # ETH-A's, from WETH's
    ({"ETH-A": {"cut": 1.01}}, "maker.ETH-A.cut", "cut must be between 0 and 1 (found 1.01)"),
    ({"WETH": {"curve": "exponential"}, "ETH-C": {"cut": -0.5}}, "maker.ETH-C.cut", "cut must be between 0 and 1"),
    ({"WETH": {"buf": 0}}, "maker.WETH.buf", "buf must be > 0 (found 0.0)"),
])
def test_a_value_the_contracts_cannot_hold_is_refused_naming_the_table_and_key(loop, table, column, why):
    with pytest.raises(InputError) as got:
        loop.replay(inputs(VAULTS, 1_400.0), config({"maker": table}))
    assert str(got.value).startswith(f"hand-made, column '{column}': {why}")
    assert "\n" not in str(got.value)


@pytest.mark.parametrize("loop", [replay, reference])
def test_values_the_contracts_hold_or_the_curve_does_not_read_still_run(loop):
    # a linear ilk never reads step or cut (LinearDecrease has only tau); cut 0 and 1 are a ray's 0 and RAY
    for table in ({"ETH-A": {"curve": "linear", "step": 0, "cut": 2.0}}, {"ETH-A": {"cut": 0.0}, "ETH-C": {"cut": 1.0}}):
        assert barked(loop.replay(inputs(VAULTS, 1_400.0), config({"maker": table}))) == ["0xa", "0xc"]


def test_set_refuses_a_zero_step_before_the_run():
    with pytest.raises(InputError, match=r"^--set, column 'maker.ETH-B.step': step must be > 0"):
        apply_overrides(RunConfig(scenario="s", lake="l"), ["maker.ETH-B.step=0"])


def test_a_zero_step_in_a_scenario_file_is_one_line_on_the_command_line(small_lake, tmp_path):
    # what a user writes: the shipped crash with [maker.WETH] step = 0 (the sample's WETH vaults are ETH-A's)
    text = (SCENARIO_DIR / "stylised-eth-crash.toml").read_text().replace('name = "stylised-eth-crash"',
                                                                           'name = "step-zero"')
    scenario = tmp_path / "step-zero.toml"
    scenario.write_text(text + "\n[maker.WETH]\nstep = 0\n")
    run = subprocess.run([sys.executable, "-m", "backtest", "replay", str(scenario), "--lake", str(small_lake),
                          "--out", str(tmp_path / "out")], capture_output=True, text=True, timeout=300)
    assert run.returncode != 0 and "Traceback" not in run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and "step-zero, column 'maker.WETH.step': step must be > 0 seconds (found 0.0)" in lines[0]
