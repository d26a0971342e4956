"""A Monte Carlo sweep on a Ray cluster started apart from the sweep (`ray start --head`, then
`backtest sweep --executor ray --address HOST:PORT`) writes the same bytes as the local executor.

The head node is a separate process tree with its own temp dir, on a free port, with one CPU and
no dashboard; its workers import this checkout (PYTHONPATH). Ray 2.60's `ray start` turns on token
authentication: the fixture makes a throwaway token and gives it to the head and to the sweep.
Teardown stops the head's own process group (and its workers), not `ray stop`, which would stop
every Ray on the machine, other people's included.
"""

from __future__ import annotations

import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

import backtest

pytest.importorskip("ray")

REPO = Path(backtest.__file__).resolve().parents[1]
SWEEP = ("--paths", "3", "--model", "bridge", "--bridge", "WETH:0.45:24", "--seed", "19",
         "--grid", "liquidation_bonus.WETH=0.08", "--workers", "1")     # 2 sets x 3 paths = 6 tasks
TABLES = ("results.parquet", "comparison.parquet", "risk.parquet")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tree(roots: set[int]) -> set[int]:
    """`roots` and every live descendant (Ray's workers start their own sessions, so a process group misses them)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                ppid = int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    out, todo = set(), list(roots)
    while todo:
        pid = todo.pop()
        if pid not in out:
            out.add(pid)
            todo.extend(children.get(pid, []))
    return out


def _group(pgid: int) -> set[int]:
    pids = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.getpgid(int(entry)) == pgid:
                    pids.add(int(entry))
            except OSError:
                continue
    return pids


def _stop(pgid: int) -> None:
    """SIGTERM to the head's processes and their descendants, then SIGKILL to whatever is left."""
    for sig, wait in ((signal.SIGTERM, 2.0), (signal.SIGKILL, 5.0)):
        pids = _tree(_group(pgid))
        for pid in pids:
            try:
                os.kill(pid, sig)
            except OSError:
                pass
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and _tree(_group(pgid)):
            time.sleep(0.2)


@pytest.fixture(scope="module")
def ray_head():
    """(address, env, temp dir): a head node on 127.0.0.1:<free port>, stopped at the end."""
    if not sys.platform.startswith("linux"):
        pytest.skip("the teardown walks /proc")
    port = _free_port()
    tmp = tempfile.mkdtemp(prefix="ray", dir="/tmp")        # short: Ray's socket paths must stay < 108 bytes
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
               RAY_USAGE_STATS_ENABLED="0", RAY_AUTH_MODE="token", RAY_AUTH_TOKEN=secrets.token_hex(32))
    head = subprocess.Popen(["ray", "start", "--head", "--port", str(port), "--num-cpus", "1",
                             "--include-dashboard=false", "--temp-dir", tmp, "--disable-usage-stats",
                             "--node-ip-address", "127.0.0.1"],
                            env=env, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        log, _ = head.communicate(timeout=120)
        assert head.returncode == 0, log
        yield f"127.0.0.1:{port}", env, Path(tmp)
    finally:
        if head.poll() is None:
            head.kill()
        _stop(head.pid)                     # the daemons keep the group of `ray start`, which has exited
        subprocess.run(["rm", "-rf", tmp], check=False)


def _cli(env, *args):
    return subprocess.run([sys.executable, "-m", "backtest", "sweep", *args], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=300)


def test_a_sweep_on_a_separately_started_head_writes_the_local_bytes(ray_head, sample_lake, tmp_path):
    address, env, head = ray_head
    lake = sample_lake(300)
    local = _cli(env, "--lake", str(lake), *SWEEP, "--out", str(tmp_path / "local"))
    assert local.returncode == 0, local.stderr
    on_ray = _cli(env, "--lake", str(lake), *SWEEP, "--executor", "ray", "--address", address,
                  "--out", str(tmp_path / "ray"))
    assert on_ray.returncode == 0, on_ray.stderr
    assert "6 tasks (6 run, 0 reused)" in on_ray.stdout and "book read 1 time(s)" in on_ray.stdout
    for name in TABLES:
        assert (tmp_path / "ray" / name).read_bytes() == (tmp_path / "local" / name).read_bytes(), name
    # the tasks ran on the head's workers: Ray logs each actor's class in its worker's log
    logs = (head / "session_latest" / "logs").glob("worker-*.out")
    assert any(":actor_name:Worker" in f.read_text(errors="replace") for f in logs)
    # and the paths are the bridges asked for: WETH 45 % down at the end of the day on every path
    import pyarrow.parquet as pq
    t = pq.read_table(tmp_path / "ray" / "results.parquet")
    assert t.num_rows == 6 and min(t["max_drawdown_exogenous.WETH"].to_pylist()) >= 0.45 - 1e-9


def test_the_checked_in_spec_with_a_sampled_counterfactual_writes_the_local_bytes_on_the_head(ray_head, sample_lake,
                                                                                             tmp_path):
    # eth-crash-bridges as the issue runs it (its 1-in-K counterfactual), 4 paths, K = 2: rows with and
    # without the no-feedback run cross the object store, and the nulls come back as nulls
    address, env, _ = ray_head
    args = ("--spec", "eth-crash-bridges", "--paths", "4", "--counterfactual-every", "2", "--workers", "1",
            "--lake", str(sample_lake(300)))
    local = _cli(env, *args, "--out", str(tmp_path / "local"))
    assert local.returncode == 0, local.stderr
    on_ray = _cli(env, *args, "--executor", "ray", "--address", address, "--out", str(tmp_path / "ray"))
    assert on_ray.returncode == 0, on_ray.stderr
    assert "null where not made" in on_ray.stdout
    for name in TABLES:
        assert (tmp_path / "ray" / name).read_bytes() == (tmp_path / "local" / name).read_bytes(), name
    import pyarrow.parquet as pq
    t = pq.read_table(tmp_path / "ray" / "results.parquet")
    assert t["path"].to_pylist() == [0, 1, 2, 3]
    assert [v is None for v in t["bad_debt_usd_without_feedback"].to_pylist()] == [False, True, False, True]
    assert t["bad_debt_usd"].null_count == 0


def test_a_wrong_address_is_one_line_and_a_non_zero_exit(sample_lake, tmp_path):
    env = dict(os.environ, PYTHONPATH=str(REPO))     # no head on that port: Ray's own client would retry for minutes
    p = _cli(env, "--lake", str(sample_lake(300)), *SWEEP,
             "--executor", "ray", "--address", f"127.0.0.1:{_free_port()}", "--out", str(tmp_path / "x"))
    assert p.returncode == 2 and "--address 127.0.0.1:" in p.stderr and "no Ray head answers there" in p.stderr
    assert "Traceback" not in p.stderr and not (tmp_path / "x").exists()          # nothing written
