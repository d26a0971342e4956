"""Ingest through a fault-injecting proxy in front of a local anvil ends with the same lake, byte
for byte, as an ingest straight from the node. Faults: dropped connections, 429, 502/503,
timeouts, truncated bodies, "query returned more than 10000 results", logs out of order."""

from __future__ import annotations

import http.server
import json
import random
import threading
import time
import urllib.request
from collections import Counter

import pyarrow.parquet as pq
import pytest

from backtest.ingest.logs import read_logs
from backtest.ingest.pipeline import ingest
from backtest.ingest.rpc import RpcClient
from tests.chain.conftest import anvil, devnet_session, net  # noqa: F401  (pytest fixtures)
from tests.reliability.conftest import folder_hash, folder_listing

FAULTS = ("drop", "429", "503", "502", "timeout", "truncate", "too_many", "shuffle")
CLIENT_TIMEOUT = 0.5


class FaultProxy(http.server.BaseHTTPRequestHandler):
    """Forwards JSON-RPC POSTs to `upstream`. Each kind of fault is injected once at the first
    request it fits, then a seeded draw decides (40 % of requests get one)."""

    upstream = ""
    rng = random.Random(0)
    injected: Counter = Counter()
    lock = threading.Lock()

    def _forward(self, body: bytes) -> bytes:
        req = urllib.request.Request(self.upstream, body, {"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.read()

    def _answer(self, status: int, payload: bytes, length: int | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload) if length is None else length))
        self.end_headers()
        self.wfile.write(payload)

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        request = json.loads(body)
        get_logs = isinstance(request, dict) and request.get("method") == "eth_getLogs"
        with self.lock:
            fits = [f for f in FAULTS if get_logs or f not in ("too_many", "shuffle")]
            first = [f for f in fits if not self.injected[f]]
            fault = first[0] if first else (self.rng.choice(fits) if self.rng.random() < 0.4 else None)
            if fault == "timeout" and self.injected["timeout"] >= 3:      # each costs CLIENT_TIMEOUT of wall time
                fault = None
            if fault:
                self.injected[fault] += 1
        if fault == "drop":
            self.close_connection = True
            return
        if fault in ("429", "503", "502"):
            return self._answer(int(fault), b"busy")
        if fault == "timeout":
            time.sleep(CLIENT_TIMEOUT * 2)
            self.close_connection = True
            return
        if fault == "too_many":
            err = {"jsonrpc": "2.0", "id": request["id"],
                   "error": {"code": -32005, "message": "query returned more than 10000 results"}}
            return self._answer(200, json.dumps(err).encode())
        answer = self._forward(body)
        if fault == "truncate":
            return self._answer(200, answer[: len(answer) // 2])
        if fault == "shuffle":
            out = json.loads(answer)
            if len(out.get("result") or []) < 2:                         # nothing to reorder: not a fault
                with self.lock:
                    self.injected["shuffle"] -= 1
            else:
                out["result"] = out["result"][::-1]
                answer = json.dumps(out).encode()
        self._answer(200, answer)

    def log_message(self, *args):
        pass


@pytest.fixture
def proxy(net):
    handler = type("Proxy", (FaultProxy,), {"upstream": net.chain.url, "rng": random.Random(7),
                                             "injected": Counter(), "lock": threading.Lock()})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler.injected
    finally:
        server.shutdown()
        server.server_close()


def _feed_updates(net, n):
    for i in range(n):
        net.set_prices({"WETH": 2_000_00000000 + i * 10**8, "WBTC": 30_000_00000000 - i * 10**8})
    return [net.feeds["WETH"].address, net.feeds["WBTC"].address]


def test_ingest_through_faults_gives_the_lake_of_a_clean_ingest(net, proxy, tmp_path):
    url, injected = proxy
    feeds = _feed_updates(net, 12)
    head = net.chain.w3.eth.block_number
    clean = ingest(RpcClient(net.chain.url), "chainlink", feeds, 0, head, tmp_path / "clean",
                   confirmations=0, chunk_size=3)
    client = RpcClient(url, timeout=CLIENT_TIMEOUT, retries=12, sleep=lambda s: None, seed=1)
    faulty = ingest(client, "chainlink", feeds, 0, head, tmp_path / "faulty", confirmations=0, chunk_size=3)
    total = sum(injected.values())
    print(f"{total} faults injected and survived: {dict(sorted(injected.items()))}; "
          f"{client.calls} calls, {client.retried} retries")
    assert total >= 10 and set(injected) == set(FAULTS)
    assert faulty.logs == clean.logs > 0
    assert folder_listing(tmp_path / "faulty") == folder_listing(tmp_path / "clean")
    assert folder_hash(tmp_path / "faulty") == folder_hash(tmp_path / "clean")


def _prices(net, values):
    for i, v in enumerate(values):
        net.set_prices({"WETH": v * 10**8, "WBTC": 30_000_00000000 + i})


def test_a_reorg_within_the_margin_resumes_to_the_lake_of_the_new_chain(net, tmp_path):
    # blocks ..h, then h+1, h+2 on the old branch; ingest with 2 confirmations stops at h.
    # The chain reorgs h+1.. onto another branch (other prices, two more blocks). A resumed ingest
    # must equal a clean ingest of the new chain: the old branch never reached the lake.
    _prices(net, [2000, 1990, 1980])
    fork = net.chain.snapshot()
    _prices(net, [1970, 1960])
    feeds = [net.feeds["WETH"].address, net.feeds["WBTC"].address]
    lake = tmp_path / "resumed"
    ingest(RpcClient(net.chain.url), "chainlink", feeds, 0, None, lake, confirmations=2, chunk_size=4)
    net.chain.revert(fork)
    _prices(net, [1500, 1400, 1300, 1200])
    ingest(RpcClient(net.chain.url), "chainlink", feeds, 0, None, lake, confirmations=2, chunk_size=4)
    ingest(RpcClient(net.chain.url), "chainlink", feeds, 0, None, tmp_path / "clean", confirmations=2, chunk_size=4)
    # same rows in every table (the raw log files are cut at other window edges: that is by design)
    assert read_logs(lake / "logs").to_pylist() == read_logs(tmp_path / "clean" / "logs").to_pylist()
    tables = sorted(p.relative_to(lake) for p in lake.glob("*/*.parquet") if p.parent.name != "logs")
    assert len(tables) >= 3 and tables == sorted(p.relative_to(tmp_path / "clean")
                                                 for p in (tmp_path / "clean").glob("*/*.parquet")
                                                 if p.parent.name != "logs")
    for t in tables:
        assert pq.read_table(lake / t).to_pylist() == pq.read_table(tmp_path / "clean" / t).to_pylist(), t
    answers = pq.read_table(lake / "chainlink_feed_answer_updated" / "network_31337.parquet").to_pylist()
    weth = {r["current_f64"] / 1e8 for r in answers}
    assert {1500, 1400} <= weth and not weth & {1970, 1960}      # new branch in (up to the margin), old one never


def test_a_reorg_deeper_than_the_margin_is_refused_and_the_lake_untouched(net, tmp_path, capsys):
    from backtest.errors import InputError
    _prices(net, [2000])
    fork = net.chain.snapshot()
    _prices(net, [1990, 1980, 1970, 1960])                      # 4 blocks; the lake keeps the first 2
    feeds = [net.feeds["WETH"].address, net.feeds["WBTC"].address]
    lake = tmp_path / "lake"
    ingest(RpcClient(net.chain.url), "chainlink", feeds, 0, None, lake, confirmations=2, chunk_size=4)
    before = folder_hash(lake)
    net.chain.revert(fork)
    _prices(net, [1500, 1400, 1300, 1200, 1100])
    with pytest.raises(InputError, match="reorg"):
        ingest(RpcClient(net.chain.url), "chainlink", feeds, 0, None, lake, confirmations=2, chunk_size=4)
    assert folder_hash(lake) == before


class SlowProxy(FaultProxy):
    """No faults, 15 ms per request: stretches an ingest so that kills land inside it."""

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        time.sleep(0.015)
        self._answer(200, self._forward(body))


def _visible_rows(lake):
    """Every table's rows (logs read across their files); checkpoints are how, not what."""
    out = {"logs": read_logs(lake / "logs").to_pylist()}
    for p in sorted(lake.glob("*/*.parquet")):
        if p.parent.name != "logs":
            out[str(p.relative_to(lake))] = pq.read_table(p).to_pylist()
    return out


def test_an_ingest_killed_at_random_points_resumes_to_the_same_lake(net, tmp_path):
    import os
    import signal
    import subprocess
    import sys

    import numpy as np

    handler = type("Slow", (SlowProxy,), {"upstream": net.chain.url})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        _prices(net, list(range(2000, 1900, -5)))                 # 20 blocks of updates
        feeds = ",".join([net.feeds["WETH"].address, net.feeds["WBTC"].address])
        head = net.chain.w3.eth.block_number

        def command(lake):
            return [sys.executable, "-m", "backtest", "ingest", "--rpc", url, "--source", "chainlink",
                    "--address", feeds, "--from-block", "0", "--to-block", str(head), "--lake", str(lake),
                    "--confirmations", "0", "--chunk-size", "2", "--max-range", "2", "--retries", "2"]

        t0 = time.monotonic()
        subprocess.run(command(tmp_path / "whole"), check=True, capture_output=True, timeout=300)
        full = time.monotonic() - t0
        rng = np.random.default_rng(10)
        lake, kills = tmp_path / "killed", 0
        for lo, hi in ((0.3, 0.5), (0.4, 0.6), (0.4, 0.6)):
            proc = subprocess.Popen(command(lake), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                    start_new_session=True)
            time.sleep(rng.uniform(lo, hi) * full)
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                kills += 1
            proc.wait(timeout=60)
            for p in lake.rglob("*.parquet"):                   # a reader never sees a partial file
                if not p.name.startswith("."):
                    pq.read_table(p)
        print(f"ingest: {kills} SIGKILLs over a {full:.1f} s run")
        assert kills >= 2
        subprocess.run(command(lake), check=True, capture_output=True, timeout=300)
        resumed, whole = _visible_rows(lake), _visible_rows(tmp_path / "whole")
        blocks = "blocks/network_31337.parquet"
        # block times of windows finished before a kill may be missing;
        # every other table is equal, and the block rows present are the same rows
        assert {k: v for k, v in resumed.items() if k != blocks} == {k: v for k, v in whole.items() if k != blocks}
        assert all(r in whole[blocks] for r in resumed[blocks])
    finally:
        server.shutdown()
        server.server_close()


class CrashAfter(RpcClient):
    """Dies (as a kill would) on the first eth_getLogs that reaches `block`."""

    def __init__(self, url, block):
        super().__init__(url)
        self.crash_at = block

    def get_logs(self, addresses, topic0s, start, end):
        if end >= self.crash_at:
            raise SystemExit("killed")
        return super().get_logs(addresses, topic0s, start, end)


def test_an_ingest_interrupted_after_some_windows_still_has_every_block_time(net, tmp_path):
    _prices(net, [2000, 1990, 1980, 1970])
    feeds = [net.feeds["WETH"].address, net.feeds["WBTC"].address]
    head = net.chain.w3.eth.block_number
    with pytest.raises(SystemExit):
        ingest(CrashAfter(net.chain.url, head - 1), "chainlink", feeds, 0, head, tmp_path, confirmations=0,
               chunk_size=2)
    ingest(RpcClient(net.chain.url), "chainlink", feeds, 0, head, tmp_path, confirmations=0, chunk_size=2)
    logged = {r["block_number"] for r in read_logs(tmp_path / "logs").to_pylist()}
    timed = set(pq.read_table(tmp_path / "blocks" / "network_31337.parquet")["block_number"].to_pylist())
    assert logged <= timed, sorted(logged - timed)
