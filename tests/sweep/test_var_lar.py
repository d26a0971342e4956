"""VaR and LaR per set and market over paths (backtest/sweep/risk.py), worked by hand."""

import numpy as np
import pyarrow as pa
import pytest

from backtest.sweep.risk import var_lar


def _results():
    # set 0, 20 paths: bad debt 1..20 with feedback, 0..19 without; aave-v3 carries 3/4 of it, maker 1/4.
    # seized 100 x path with feedback, 90 x path without. Set 1: everything doubled.
    rows = []
    for sid, k in ((0, 1.0), (1, 2.0)):
        for p in range(20):
            bad, bad0, seized, seized0 = k * (p + 1), k * p, k * 100 * (p + 1), k * 90 * (p + 1)
            rows.append({"set_id": sid, "path": p, "bad_debt_usd": bad, "bad_debt_usd_without_feedback": bad0,
                         "bad_debt_usd_by_protocol.aave-v3": 0.75 * bad, "bad_debt_usd_by_protocol.maker": 0.25 * bad,
                         "bad_debt_usd_without_feedback_by_protocol.aave-v3": 0.75 * bad0,
                         "bad_debt_usd_without_feedback_by_protocol.maker": 0.25 * bad0,
                         "collateral_seized_usd": seized, "collateral_seized_usd_without_feedback": seized0,
                         "collateral_seized_usd_by_protocol.aave-v3": seized,
                         "collateral_seized_usd_by_protocol.maker": 0.0,
                         "collateral_seized_usd_without_feedback_by_protocol.aave-v3": seized0,
                         "collateral_seized_usd_without_feedback_by_protocol.maker": 0.0})
    return pa.Table.from_pylist(rows)


def test_var_and_lar_are_95th_percentiles_split_into_path_and_feedback():
    risk = var_lar(_results()).to_pandas().set_index(["set_id", "market"])
    # p95 of 1..20 by linear interpolation: position 0.95 x 19 = 18.05 -> 19 + 0.05 x 1 = 19.05
    total = risk.loc[(0, "all")]
    assert total["var_usd"] == pytest.approx(19.05)
    assert total["var_without_feedback_usd"] == pytest.approx(18.05)
    assert total["var_added_by_feedback_usd"] == pytest.approx(1.0)
    assert total["lar_usd"] == pytest.approx(1905.0) and total["lar_without_feedback_usd"] == pytest.approx(1714.5)
    aave, maker = risk.loc[(0, "aave-v3")], risk.loc[(0, "maker")]
    assert aave["var_usd"] == pytest.approx(0.75 * 19.05) and maker["var_usd"] == pytest.approx(0.25 * 19.05)
    assert maker["lar_usd"] == 0.0 and aave["lar_added_by_feedback_usd"] == pytest.approx(1905.0 - 1714.5)
    assert risk.loc[(1, "all")]["var_usd"] == pytest.approx(2 * 19.05)
    assert set(risk.reset_index()["market_kind"]) == {"all", "protocol"}


def test_without_a_no_feedback_run_the_split_is_null_not_zero():
    t = _results()
    t = t.drop([c for c in t.column_names if "without_feedback" in c])
    risk = var_lar(t).to_pandas()
    assert risk["var_usd"].notna().all()
    assert risk["var_without_feedback_usd"].isna().all() and risk["lar_added_by_feedback_usd"].isna().all()
