"""`backtest bench --quick` runs every bench end to end (a smoke test: no timing is asserted)."""

import json
import subprocess
import sys

from backtest.cli import main


def test_quick_bench_prints_a_table_and_json_and_every_engine_agrees_with_its_baseline(tmp_path):
    out = tmp_path / "bench.json"
    done = subprocess.run([sys.executable, "-m", "backtest", "bench", "--quick", "--out", str(out)],
                          capture_output=True, text=True, timeout=600)   # a hang guard, not a timing
    assert done.returncode == 0, done.stderr[-2000:]
    head, _, _ = done.stdout.partition("\n{")
    assert head.splitlines()[0].split()[:3] == ["bench", "size", "time"]
    report = json.loads(out.read_text())
    assert json.loads("{" + done.stdout.partition("\n{")[2]) == report
    rows = {r["bench"]: r for r in report["results"]}
    assert sorted(rows) == ["cli", "decode", "replay", "sample", "snapshot", "sweep"]
    for name, row in rows.items():
        if row.get("available", True):
            # the engine and its baseline produced the same result on the same inputs
            assert row["identical"] is True, name
            assert row["seconds"] > 0 and row["reference_seconds"] > 0 and row["peak_rss_mb"] > 0, name
            assert f"{name} " in head
        else:
            assert "not available" in head
    assert rows["replay"]["liquidations"] > 0            # the synthetic crash does liquidate
    if rows["sample"].get("available", True):            # `backtest replay` as a user runs it (exit 0, or the
        sample = rows["sample"]                          # bench fails) and its start-up floor, both measured
        assert sample["command_runs"] == 1 and sample["command_seconds"] > 0 and sample["floor_seconds"] > 0
        assert sample["command_cpu_seconds"] > 0 and sample["floor_share"] > 0
        assert "start-up floor" in head


def test_a_malformed_replay_size_is_one_line_and_exit_2(capsys):
    assert main(["bench", "--only", "replay", "--replay-size", "1000by1440"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "ACCOUNTSxSTEPS" in err


def test_without_baseline_the_replay_case_times_the_engine_alone(monkeypatch):
    # The scaling curve (--no-baseline) must not run the whole-book engine: at 1M x 10,080 that
    # is ~25 minutes. Its replay is replaced here by one that fails if called.
    from backtest.bench import replay_case
    from backtest.engine import reference

    def refuse(*args, **kwargs):
        raise AssertionError("the whole-book engine ran")

    monkeypatch.setattr(reference, "replay", refuse)
    row = replay_case.run_case(2_000, 60, reference=False)
    assert row["accounts"] == 2_000 and row["steps"] == 60 and row["seconds"] > 0
    assert "reference_seconds" not in row and "speedup" not in row
    with __import__("pytest").raises(AssertionError, match="whole-book"):
        replay_case.run_case(2_000, 60, reference=True)
