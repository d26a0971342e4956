"""An ilk's values that the contracts cannot hold (a stairstep `step` of 0, a `cut` above 1, a `buf` of 0) are
refused where the ilk's parameters are resolved (MakerParams.from_spec), on one line naming the scenario
and the table and key that set them, before any auction divides by them: a scenario file's when it is
loaded (naming the file), a `--set`'s when it is applied, the rest when the run reads the book."""

import math
import subprocess
import sys

import pytest

from backtest.config import RunConfig
from backtest.engine import reference, replay
from backtest.errors import InputError
from backtest.overrides import apply_overrides
from backtest.run import make_config
from backtest.scenarios.library import SCENARIO_DIR, load_scenario
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


def _crash_with(tmp_path, tables: str):
    """The shipped crash with `tables` appended, as a file (the sample's WETH vaults are ETH-A's)."""
    scenario = tmp_path / "crash-with-maker.toml"
    scenario.write_text((SCENARIO_DIR / "stylised-eth-crash.toml").read_text() + "\n" + tables)
    return scenario


@pytest.mark.parametrize("tables, column, why", [
    ("[maker.WETH]\nstep = 0\n", "maker.WETH.step", "step must be > 0 seconds (found 0.0)"),
    ("[maker.ETH-B]\ncut = 1.5\n", "maker.ETH-B.cut", "cut must be between 0 and 1 (found 1.5)"),
    ("[maker.WETH]\ncurve = \"exponential\"\ncut = -0.5\n", "maker.WETH.cut", "cut must be between 0 and 1"),
    ("[maker.ETH-A]\nbuf = 0\n[maker.WBTC]\ntail = 600\n", "maker.ETH-A.buf", "buf must be > 0 (found 0.0)"),
    ("[maker.WETH]\ncurve = \"stairs\"\n[maker.ETH-A]\ncurve = \"linear\"\n", "maker.WETH.curve", "curve must be one of"),
])
def test_a_scenario_file_is_refused_when_loaded_naming_its_path_and_column(tmp_path, tables, column, why):
    scenario = _crash_with(tmp_path, tables)
    with pytest.raises(InputError) as got:
        load_scenario(scenario)
    assert str(got.value).startswith(f"{scenario}, column '{column}': {why}")


@pytest.mark.parametrize("loop", [replay, reference])
def test_a_value_another_table_could_undo_is_left_to_the_run(tmp_path, loop):
    # [maker.WETH] step = 0 is never read by an ETH-A whose own table makes it linear; which ilks are WETH's
    # is the book's to say, so the file loads and the run decides: with ETH-C's own step it runs, without
    # it ETH-C (a stairstep of WETH's) would divide by 0
    tables = {"WETH": {"step": 0}, "ETH-A": {"curve": "linear"}}
    load_scenario(_crash_with(tmp_path, "[maker.WETH]\nstep = 0\n[maker.ETH-A]\ncurve = \"linear\"\n"))
    both = config({"maker": {**tables, "ETH-C": {"step": 60}}})
    assert barked(loop.replay(inputs(VAULTS, 1_400.0), both)) == ["0xa", "0xc"]
    with pytest.raises(InputError, match=r"^hand-made, column 'maker.WETH.step': step must be > 0"):
        loop.replay(inputs(VAULTS, 1_400.0), config({"maker": tables}))


def test_set_is_checked_over_the_files_tables(tmp_path):
    # the file's linear WETH never reads its step of 0; --set making it a stairstep again reads it
    scenario = load_scenario(_crash_with(tmp_path, "[maker.WETH]\ncurve = \"linear\"\nstep = 0\n"))
    with pytest.raises(InputError, match=r"^--set, column 'maker.WETH.step': step must be > 0"):
        make_config(scenario, tmp_path, ["maker.WETH.curve=stairstep"])


def test_a_zero_step_in_a_scenario_file_is_one_line_on_the_command_line_and_writes_nothing(small_lake, tmp_path):
    scenario = _crash_with(tmp_path, "[maker.WETH]\nstep = 0\n")
    run = subprocess.run([sys.executable, "-m", "backtest", "replay", str(scenario), "--lake", str(small_lake),
                          "--out", str(tmp_path / "out")], capture_output=True, text=True, timeout=300)
    assert run.returncode != 0 and "Traceback" not in run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and f"{scenario}, column 'maker.WETH.step': step must be > 0 seconds (found 0.0)" in lines[0]
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("key, value, why", [
    ("maker.WETH.step", "0", "step must be > 0 seconds (found 0.0)"),
    ("oracle.deviation", "-0.5", "oracle.deviation=-0.5: must be >= 0.0"),
])
def test_a_bad_value_in_a_files_parameters_table_names_the_file_and_key_not_set(tmp_path, key, value, why):
    # a scenario's [parameters] are applied as overrides, but the user wrote them in the file, not with --set
    scenario = load_scenario(_crash_with(tmp_path, f'[parameters]\n"{key}" = {value}\n'))
    with pytest.raises(InputError) as got:
        make_config(scenario, tmp_path)
    assert str(got.value).startswith(f"{scenario.path}, column 'parameters.{key}': {why}")
    assert "--set" not in str(got.value)
