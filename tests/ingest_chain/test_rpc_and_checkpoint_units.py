"""The pieces under `backtest ingest`, without a node: URL redaction, range planning, error
classification, checkpoint arithmetic, and what a crash between a data file and its checkpoint leaves."""

from __future__ import annotations

import http.server
import json
import threading

import pytest

from backtest.ingest import checkpoint as ck
from backtest.ingest.events import BY_TABLE
from backtest.ingest.logs import log_files, logs_to_table, read_logs, write_range
from backtest.ingest.rpc import RangePlan, RangeTooLarge, RpcClient, RpcError, redact
from tests.ingest_chain.logmaker import encode_log


@pytest.mark.parametrize("url, shown", [
    ("https://eth-mainnet.g.alchemy.com/v2/AbCdEf123", "https://eth-mainnet.g.alchemy.com/***"),
    ("https://mainnet.infura.io/v3/0123456789abcdef", "https://mainnet.infura.io/***"),
    ("https://user:secret@node.example:8545", "https://node.example:8545/***"),
    ("https://rpc.example/?apikey=XYZ", "https://rpc.example/***"),
    ("http://127.0.0.1:8545", "http://127.0.0.1:8545"),
])
def test_redact_keeps_scheme_and_host_only(url, shown):
    assert redact(url) == shown


def test_range_plan_halves_on_failure_and_doubles_while_sparse():
    plan = RangePlan(size=1000, target_logs=100, max_size=3000)
    plan.shrink(1000)
    assert plan.size == 500
    plan.observe(500, 10)           # 10 < 100/4: sparse, double
    assert plan.size == 1000
    plan.observe(1000, 60)          # between a quarter and the target: keep
    assert plan.size == 1000
    plan.observe(1000, 200)         # over the target: halve before the node complains
    assert plan.size == 500
    for _ in range(5):
        plan.observe(plan.size, 0)
    assert plan.size == 3000        # capped


@pytest.mark.parametrize("done, gaps", [
    ([], [(0, 99)]),
    ([(0, 49)], [(50, 99)]),
    ([(10, 19), (30, 39)], [(0, 9), (20, 29), (40, 99)]),
    ([(0, 50), (51, 99)], []),
    ([(-5, 200)], []),
])
def test_missing_ranges(done, gaps):
    assert ck.missing(0, 99, done) == gaps


def test_merge_joins_touching_and_overlapping_ranges():
    assert ck.merge([(5, 9), (0, 4), (20, 30), (25, 26)]) == [(0, 9), (20, 30)]


def test_filter_key_ignores_order_and_case():
    assert ck.filter_key("ethereum", ["0xAB", "0xcd"], ["0x01"]) == ck.filter_key("ethereum", ["0xcd", "0xab"], ["0x01"])
    assert ck.filter_key("ethereum", ["0xab"], None) != ck.filter_key("base", ["0xab"], None)


class Scripted(http.server.BaseHTTPRequestHandler):
    """Answers each POST with the next scripted (status, body)."""

    script: list = []
    seen: list = []

    def do_POST(self):
        request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).seen.append(request)
        status, body = type(self).script.pop(0)
        if isinstance(body, dict) and body.get("id") == "echo":
            body = {**body, "id": request["id"]}
        if body in ("blocks", "blocks-but-one"):     # a batch of eth_getBlockByNumber: time = 10 x number
            answers = [{"jsonrpc": "2.0", "id": r["id"], "result": {
                "timestamp": hex(10 * int(r["params"][0], 16)), "hash": "0x%064x" % int(r["params"][0], 16)}}
                for r in request]
            body = answers[:-1] if body == "blocks-but-one" else answers
        data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *a):
        pass


@pytest.fixture
def scripted():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Scripted)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/key"
    server.shutdown()
    server.server_close()


def ok(result, id="echo"):
    return 200, {"jsonrpc": "2.0", "id": id, "result": result}


def err(code, message):
    return 200, {"jsonrpc": "2.0", "id": "echo", "error": {"code": code, "message": message}}


def test_transient_answers_are_retried_then_the_result_returned(scripted):
    Scripted.script = [(429, "slow down"), (502, "bad gateway"), (200, "{not json"), err(-32000, "request timed out"),
                       ok("0x10")]
    waits = []
    client = RpcClient(scripted, sleep=waits.append, backoff=1.0)
    assert client.block_number() == 16
    assert client.retried == 4 and len(waits) == 4
    assert all(0.5 * 2**i <= w <= 2**i for i, w in enumerate(waits))     # exponential, jittered down to half


def test_wrong_answers_are_retried_like_failures(scripted):
    """An answer to another request, a log outside the range asked for, a log without its number."""
    log = {"blockNumber": "0x5", "logIndex": "0x0"}
    Scripted.script = [ok("0x10", id=999), ok([{**log, "blockNumber": "0x50"}]), ok([{"logIndex": "0x0"}]),
                       ok(None), ok([log])]
    client = RpcClient(scripted, sleep=lambda s: None)
    assert client.get_logs([], None, 0, 10) == [log]
    assert client.retried == 4


def test_mainnet_addresses_are_built_in_and_required_elsewhere(scripted, tmp_path):
    from backtest.errors import InputError
    from backtest.ingest.addresses import MAINNET
    from backtest.ingest.pipeline import ingest
    reverted = err(3, "execution reverted")
    Scripted.script, Scripted.seen = [ok("0x1"), ok(hex(20_000_000)), reverted], []
    with pytest.raises(InputError, match="not an Aave pool"):
        ingest(RpcClient(scripted, sleep=lambda s: None), "aave-v3", [], 19_000_000, 19_000_100, tmp_path)
    (asked,) = [r for r in Scripted.seen if r["method"] == "eth_call"]
    assert asked["params"][0]["to"] == MAINNET["aave-v3"][0][1]          # the built-in Aave v3 pool
    Scripted.script = [ok(hex(31337)), ok(hex(100))]
    with pytest.raises(InputError, match="--address is required for aave-v3 on chain 31337"):
        ingest(RpcClient(scripted, sleep=lambda s: None), "aave-v3", [], 0, 50, tmp_path)


def test_block_times_come_in_batches_retried_whole_or_one_by_one(scripted):
    Scripted.script = [(200, "blocks-but-one"), (200, "blocks")]     # an incomplete batch is retried
    client = RpcClient(scripted, sleep=lambda s: None)
    assert client.blocks([3, 7]) == {3: (30, "0x%064x" % 3), 7: (70, "0x%064x" % 7)}
    assert client.retried == 1 and client.calls == 2
    # a node that refuses batches answers one error object: fall back to single calls, and remember
    refuse = (200, {"jsonrpc": "2.0", "id": None, "error": {"code": -32600, "message": "batch requests disabled"}})
    Scripted.script = [refuse, ok({"timestamp": "0x1e", "hash": "0x03"}), ok({"timestamp": "0x46", "hash": "0x07"}),
                       ok({"timestamp": "0x50", "hash": "0x08"})]
    client = RpcClient(scripted, sleep=lambda s: None)
    assert client.block_timestamps([3, 7]) == {3: 30, 7: 70}
    assert client.use_batches is False and client.block_timestamps([8]) == {8: 80}


def test_too_many_results_is_a_range_error_not_a_retry(scripted):
    Scripted.script = [err(-32005, "query returned more than 10000 results")]
    with pytest.raises(RangeTooLarge):
        RpcClient(scripted, sleep=lambda s: None).get_logs([], None, 0, 10)
    Scripted.script = [(413, "payload too large")]
    with pytest.raises(RangeTooLarge):
        RpcClient(scripted, sleep=lambda s: None).get_logs([], None, 0, 10)


def test_a_real_error_is_raised_at_once_and_retries_give_up(scripted):
    Scripted.script = [err(-32602, "invalid params")]
    with pytest.raises(RpcError, match="invalid params"):
        RpcClient(scripted, sleep=lambda s: None).call("eth_getLogs", [{}])
    Scripted.script = [(503, "")] * 3
    with pytest.raises(RpcError, match="after 2 retries on http://127.0.0.1:\\d+/\\*\\*\\*"):
        RpcClient(scripted, retries=2, sleep=lambda s: None).block_number()


def feed_logs(blocks):
    ev = BY_TABLE["chainlink_feed_answer_updated"]
    return [encode_log(ev, {"current": b, "roundId": b, "updatedAt": b}, address="0x" + "11" * 20, block=b,
                       log_index=0) for b in blocks]


def test_a_crash_between_data_and_checkpoint_refetches_without_duplicates(tmp_path):
    logs_dir = tmp_path / "logs"
    cps = ck.Checkpoints.load(logs_dir)
    key = ck.filter_key("ethereum", ["0x" + "11" * 20], None)
    write_range(logs_dir, "ethereum", 0, 9, logs_to_table(feed_logs([1, 5]), 1))
    cps.record(key, 0, 9)
    write_range(logs_dir, "ethereum", 10, 19, logs_to_table(feed_logs([12]), 1))
    # crash here: the 10..19 file is on disk, its checkpoint entry is not
    again = ck.Checkpoints.load(logs_dir)
    assert again.done(key) == [(0, 9)] and ck.missing(0, 19, again.done(key)) == [(10, 19)]
    write_range(logs_dir, "ethereum", 10, 19, logs_to_table(feed_logs([12]), 1))   # the rerun fetches it again
    again.record(key, 10, 19)
    assert read_logs(logs_dir)["block_number"].to_pylist() == [1, 5, 12]
    assert [p.name for p, _, _ in log_files(logs_dir)] == ["ethereum__logs__00000000_to_00000009.parquet",
                                                          "ethereum__logs__00000010_to_00000019.parquet"]


def test_an_overlapping_range_is_merged_into_one_file(tmp_path):
    logs_dir = tmp_path / "logs"
    write_range(logs_dir, "ethereum", 0, 9, logs_to_table(feed_logs([1, 5]), 1))
    write_range(logs_dir, "ethereum", 5, 14, logs_to_table(feed_logs([5, 13]), 1))
    assert [p.name for p, _, _ in log_files(logs_dir)] == ["ethereum__logs__00000000_to_00000014.parquet"]
    assert read_logs(logs_dir)["block_number"].to_pylist() == [1, 5, 13]


def test_a_failed_write_leaves_no_file_behind(tmp_path, monkeypatch):
    import backtest.ingest.logs as logs_mod

    def boom(*a, **k):
        raise OSError("disk full")
    monkeypatch.setattr(logs_mod.pq, "write_table", boom)
    with pytest.raises(OSError):
        write_range(tmp_path / "logs", "ethereum", 0, 9, logs_to_table(feed_logs([1]), 1))
    assert list((tmp_path / "logs").iterdir()) == []


def test_logs_of_another_chain_in_the_same_folder_stay_out(tmp_path):
    """The same contract address on two chains (CREATE2 deployments): a network's reads see its own files only."""
    logs_dir = tmp_path / "logs"
    write_range(logs_dir, "ethereum", 0, 9, logs_to_table(feed_logs([1, 5]), 1))
    write_range(logs_dir, "base", 0, 9, logs_to_table(feed_logs([1, 3, 4]), 8453))
    assert read_logs(logs_dir, network="ethereum")["block_number"].to_pylist() == [1, 5]
    assert read_logs(logs_dir, network="base")["chain_id"].to_pylist() == [8453] * 3
    assert read_logs(logs_dir).num_rows == 5       # same (block, log index) on two chains: both kept
