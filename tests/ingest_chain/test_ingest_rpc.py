"""`backtest ingest` against a real anvil: cryo files, checkpoints and resume, range splitting, retries, redaction."""

from __future__ import annotations

import http.server
import io
import re
import threading
import urllib.request

import pyarrow.parquet as pq
import pytest

from backtest.cli import main as cli
from backtest.errors import InputError
from backtest.ingest.events import topic0s_of
from backtest.ingest.logs import log_files, logs_to_table, read_logs
from backtest.ingest.pipeline import ingest
from backtest.ingest.rpc import RangePlan, RangeTooLarge, RpcClient, RpcError
from backtest.lake.schemas import LOGS

NAME = re.compile(r"^network_31337__logs__(\d{8})_to_(\d{8})\.parquet$")


def feed_updates(net, n=12):
    """n blocks, each with a new WETH and WBTC answer (NewRound + AnswerUpdated per feed)."""
    for i in range(n):
        net.set_prices({"WETH": 2_000_00000000 + i * 10**8, "WBTC": 30_000_00000000 - i * 10**8})
    return [net.feeds["WETH"].address, net.feeds["WBTC"].address]


def one_big_getlogs(url, addresses, end):
    client = RpcClient(url)
    raw = client.get_logs([a.lower() for a in addresses], topic0s_of("chainlink"), 0, end)
    return logs_to_table(raw, 31337)


def test_logs_land_in_cryo_files_equal_to_one_big_getlogs(net, tmp_path):
    feeds = feed_updates(net)
    client = RpcClient(net.chain.url)
    report = ingest(client, "chainlink", feeds, 0, None, tmp_path, confirmations=0, chunk_size=10)
    files = log_files(tmp_path / "logs")
    assert len(files) == report.end // 10 + 1                 # one file per 10-block window
    for path, lo, hi in files:
        assert NAME.match(path.name) and lo % 10 == 0 and hi == min(lo + 9, report.end)
        assert pq.read_schema(path).remove_metadata() == LOGS  # cryo's logs schema, exactly
    stored = read_logs(tmp_path / "logs")
    assert stored.to_pylist() == one_big_getlogs(net.chain.url, feeds, report.end).to_pylist()
    # 12 updates x 2 feeds x (NewRound + AnswerUpdated)
    assert report.decoded["chainlink_feed_answer_updated"] == 24 + 2   # + each feed's constructor round


def test_rerun_fetches_nothing_and_a_resumed_run_only_the_rest(net, tmp_path):
    feeds = feed_updates(net)
    head = net.chain.w3.eth.block_number
    client = RpcClient(net.chain.url)
    first = ingest(client, "chainlink", feeds, 0, head - 5, tmp_path / "a", confirmations=0, chunk_size=7)
    second = ingest(client, "chainlink", feeds, 0, head, tmp_path / "a", confirmations=0, chunk_size=7)
    third = ingest(client, "chainlink", feeds, 0, head, tmp_path / "a", confirmations=0, chunk_size=7)
    assert first.fetched == [(0, head - 5)]
    assert second.fetched == [(head - 4, head)]
    assert third.fetched == [] and third.logs == 0
    once = ingest(client, "chainlink", feeds, 0, head, tmp_path / "b", confirmations=0, chunk_size=7)
    resumed = read_logs(tmp_path / "a" / "logs")
    assert resumed.to_pylist() == read_logs(tmp_path / "b" / "logs").to_pylist()
    assert resumed.num_rows == once.logs == 4 * 12 + 4     # no log twice, none dropped


def test_same_chain_same_command_gives_byte_identical_lakes(net, tmp_path):
    feeds = feed_updates(net, 4)
    head = net.chain.w3.eth.block_number
    for name in ("a", "b"):
        ingest(RpcClient(net.chain.url), "chainlink", feeds, 0, head, tmp_path / name, confirmations=0, chunk_size=10)
    files = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*") if p.is_file())
    assert len(files) > 5
    for f in files:
        assert (tmp_path / "a" / f).read_bytes() == (tmp_path / "b" / f).read_bytes(), f


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_shows_blocks_and_logs_per_second_on_a_terminal_only(net, tmp_path):
    feeds = feed_updates(net, 3)
    tty, pipe = Terminal(), io.StringIO()
    ingest(RpcClient(net.chain.url), "chainlink", feeds, 0, None, tmp_path / "a", confirmations=0, progress_stream=tty)
    ingest(RpcClient(net.chain.url), "chainlink", feeds, 0, None, tmp_path / "b", confirmations=0, progress_stream=pipe)
    assert "blocks/s" in tty.getvalue() and "logs/s" in tty.getvalue() and "16 logs" in tty.getvalue()
    assert pipe.getvalue() == ""


def test_a_reorg_below_the_margin_is_refused_not_mixed_in(net, tmp_path):
    client = RpcClient(net.chain.url)
    fork = net.chain.snapshot()
    feeds = feed_updates(net, 4)
    ingest(client, "chainlink", feeds, 0, None, tmp_path, confirmations=0)
    net.chain.revert(fork)                                  # the last 4 blocks vanish...
    feeds = feed_updates(net, 6)                            # ...and other blocks take their numbers
    with pytest.raises(InputError, match="reorg deeper than --confirmations 0"):
        ingest(client, "chainlink", feeds, 0, None, tmp_path, confirmations=0)


def test_confirmation_margin_keeps_the_newest_blocks_out(net, tmp_path):
    feeds = feed_updates(net, 3)
    head = net.chain.w3.eth.block_number
    report = ingest(RpcClient(net.chain.url), "chainlink", feeds, 0, None, tmp_path, confirmations=2, chunk_size=1000)
    assert report.end == head - 2
    assert read_logs(tmp_path / "logs")["block_number"].to_pylist()[-1] <= head - 2


class Capped(RpcClient):
    """A node that refuses any eth_getLogs answer of more than `cap` logs, as providers do at 10,000."""

    cap = 4

    def get_logs(self, addresses, topic0s, start, end):
        self.ranges.append((start, end))
        logs = super().get_logs(addresses, topic0s, start, end)
        if len(logs) > self.cap:
            raise RangeTooLarge(f"query returned more than {self.cap} results")
        return logs


def capped(url, cap):
    c = Capped(url)
    c.ranges, c.cap = [], cap
    return c


def test_too_big_ranges_are_split_and_sparse_ones_grow(net, tmp_path):
    quiet = net.chain.w3.eth.block_number
    for _ in range(20):
        net.chain.mine()                                  # 20 empty blocks: the range should grow
    feeds = feed_updates(net, 6)                          # 6 blocks of 4 logs each
    client = capped(net.chain.url, 4)
    report = ingest(client, "chainlink", feeds, quiet + 1, None, tmp_path / "capped", confirmations=0,
                    chunk_size=1000, plan=RangePlan(size=4, target_logs=8))
    sizes = [b - a + 1 for a, b in client.ranges]
    # 4 then 8 quiet blocks, each answer empty: doubled; then 16 wanted but only 8 + 6 = 14 blocks are left
    assert sizes[:3] == [4, 8, 14]
    assert 1 in sizes                                     # more than 4 logs: halved down to one block
    once = ingest(RpcClient(net.chain.url), "chainlink", feeds, quiet + 1, None, tmp_path / "plain",
                  confirmations=0)
    assert report.logs == once.logs == 24
    assert read_logs(tmp_path / "capped" / "logs").to_pylist() == read_logs(tmp_path / "plain" / "logs").to_pylist()


def test_a_single_block_still_too_big_is_an_error_not_a_silent_gap(net, tmp_path):
    feeds = feed_updates(net, 2)
    with pytest.raises(RpcError, match="single block"):
        ingest(capped(net.chain.url, 3), "chainlink", feeds, 0, None, tmp_path, confirmations=0)


class Flaky(http.server.BaseHTTPRequestHandler):
    """Forwards to anvil, but answers 429 then 503 before every second forwarded request."""

    upstream = ""
    count = 0

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).count += 1
        if type(self).count % 3 in (1, 2):
            self.send_response(429 if type(self).count % 3 == 1 else 503)
            self.end_headers()
            return
        req = urllib.request.Request(self.upstream, body, {"Content-Type": "application/json"})
        with urllib.request.urlopen(req) as resp:
            out = resp.read()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *args):
        pass


@pytest.fixture
def flaky(net):
    Flaky.upstream, Flaky.count = net.chain.url, 0
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Flaky)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v3/SECRETKEY123"
    server.shutdown()
    server.server_close()


def test_cli_retries_429_and_5xx_and_never_prints_the_key(net, flaky, tmp_path, capsys, monkeypatch):
    feeds = feed_updates(net, 3)
    monkeypatch.setattr("backtest.ingest.rpc.time.sleep", lambda s: None)
    code = cli(["ingest", "--rpc", flaky, "--source", "chainlink", "--address", ",".join(feeds),
                "--from-block", "0", "--confirmations", "0", "--lake", str(tmp_path)])
    out = capsys.readouterr()
    assert code == 0, out.err
    assert "SECRETKEY123" not in out.out + out.err
    assert "http://127.0.0.1" in out.out and "/***" in out.out
    retried = int(re.search(r"\((\d+) retried\)", out.out).group(1))
    assert retried == 2 * (Flaky.count // 3) > 0         # two failures before every success
    assert read_logs(tmp_path / "logs").num_rows == 4 * 3 + 4


def test_cli_error_on_a_dead_endpoint_names_the_host_not_the_key(tmp_path, capsys):
    code = cli(["ingest", "--rpc", "http://127.0.0.1:9/v3/SECRETKEY123", "--source", "chainlink", "--address",
                "0x" + "11" * 20, "--from-block", "0", "--retries", "0", "--lake", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 2 and "SECRETKEY123" not in err and "127.0.0.1:9" in err
    assert not (tmp_path / "logs").exists()
