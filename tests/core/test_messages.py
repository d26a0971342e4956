"""Error text and number formats (issue 20, item 7): plain numbers, the closest known names for a
typo, comet.* and maker.* among --set's known keys, one number format."""

from __future__ import annotations

import numpy as np
import pytest

from backtest.cli import main
from backtest.errors import InputError, closest
from backtest.numbers import number, usd


def test_errors_print_numpy_scalars_as_plain_numbers():
    err = InputError(f"price must be > 0 (found {np.float64(-5.0)!r}; {np.int64(3)!r} rows, {np.str_('x')!r}, "
                     f"{np.True_!r})", file="p.csv", column="close", row=2)
    assert str(err) == "p.csv, column 'close', row 2: price must be > 0 (found -5.0; 3 rows, 'x', True)"


def test_closest_names_only_when_close():
    assert closest("liquidation_treshold", ["liquidation_threshold", "ltv"]) == \
        "; did you mean liquidation_threshold?"
    assert closest("zzz", ["liquidation_threshold", "ltv"]) == ""


def test_an_unknown_scenario_gets_the_closest_names(capsys):
    assert main(["replay", "stylised-eth-crsh"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "did you mean stylised-eth-crash" in err


@pytest.mark.parametrize("key, near", [("liquidation_treshold", "liquidation_threshold"),
                                       ("coment.absorb", "comet.absorb"),
                                       ("liquidator.min_profit", "liquidator.min_profit_usd")])
def test_an_unknown_parameter_gets_the_closest_names(key, near, capsys):
    assert main(["replay", "--set", f"{key}=1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"did you mean {near}" in err


def test_the_known_keys_include_comet_and_maker(capsys):
    assert main(["replay", "--set", "nonsense=1"]) == 2
    known = capsys.readouterr().err.split("(known: ")[1]
    assert "comet.absorb" in known and "comet.target_reserves" in known
    assert "maker.Hole" in known and "maker.ASSET.tail" in known and "maker.ASSET.curve" in known


def test_one_number_format():
    assert [number(v) for v in (30142400.0, 1234.5678, 1.000312, 0.0123456, 7, np.int64(5), -5.0, None)] == \
        ["30,142,400", "1,234.57", "1.00031", "0.0123456", "7", "5", "-5", "-"]
    assert usd(30142400.4) == "$30,142,400"
    assert [usd(v) for v in (-2369.2, -0.4, 0.0, None)] == ["-$2,369", "$0", "$0", "-"]     # sign before the dollar
