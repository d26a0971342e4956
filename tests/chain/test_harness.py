"""The harness itself: the node starts on 127.0.0.1 and dies with its PID, linking patches the right bytes."""

from __future__ import annotations

import os

import pytest

from backtest.devnet import artifacts as art
from backtest.devnet.aave import V3_LIBRARIES, v3
from backtest.devnet.node import REPO, NodeModulesMissing, anvil_command, node_modules, rpc, start_anvil


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie still answers kill(0): look at its state
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_node_answers_on_loopback_and_stops_by_pid():
    node = start_anvil()
    try:
        assert node.url.startswith("http://127.0.0.1:")
        assert int(rpc(node.url, "eth_chainId"), 16) == 31337
        assert _alive(node.pid)
    finally:
        node.stop()
    assert not _alive(node.pid)


def test_node_is_stopped_when_the_block_raises():
    with pytest.raises(RuntimeError, match="boom"):
        with start_anvil() as node:
            pid = node.pid
            raise RuntimeError("boom")
    assert not _alive(pid)


def test_missing_node_modules_says_how_to_install(tmp_path):
    with pytest.raises(NodeModulesMissing, match="npm ci"):
        node_modules(tmp_path)
    with pytest.raises(NodeModulesMissing, match="npm ci"):
        anvil_command(tmp_path)


def test_link_bytecode_writes_each_address_at_its_offsets():
    # 40 hex chars of code, a 20-byte placeholder at byte 2 (hex 4..44), then 2 more bytes
    placeholder = "__$0123456789abcdef0123456789abcdef01$__"[:40]
    code = "6080" + placeholder + "f3f3"
    refs = {"contracts/L.sol": {"L": [{"start": 2, "length": 20}]}}
    linked = art.link_bytecode(code, refs, {"L": "0x" + "ab" * 20})
    assert linked == "6080" + "ab" * 20 + "f3f3"
    with pytest.raises(KeyError):
        art.link_bytecode(code, refs, {})


def test_library_order_puts_borrow_logic_before_flash_loan_logic():
    libs = {name: v3(name) for name in V3_LIBRARIES}
    order = art.library_order(libs)
    assert sorted(order) == sorted(V3_LIBRARIES)
    assert order.index("BorrowLogic") < order.index("FlashLoanLogic")
    # the Pool artifact names exactly these seven
    assert sorted(lib for _src, lib in v3("Pool").libraries()) == sorted(V3_LIBRARIES)


def test_price_feed_emits_chainlink_events(net):
    """AnswerUpdated(int256 indexed current, uint256 indexed roundId, uint256 updatedAt) and NewRound."""
    w3 = net.chain.w3
    receipt = net.set_price("WETH", 1_234.5)
    topics = {log["topics"][0] for log in receipt["logs"]}
    answer_updated = "0x" + w3.keccak(text="AnswerUpdated(int256,uint256,uint256)").hex().removeprefix("0x")
    new_round = "0x" + w3.keccak(text="NewRound(uint256,address,uint256)").hex().removeprefix("0x")
    # topic0 values as listed in chainlink's AggregatorInterface (and reference/chain-conventions.md)
    assert answer_updated == "0x0559884fd3a460db3073b7fc896cc77986f16e378210ded43186175bf646fc5f"
    assert topics == {answer_updated, new_round}
    log = next(lg for lg in receipt["logs"] if lg["topics"][0] == answer_updated)
    assert int(log["topics"][1], 16) == 123_450_000_000          # 1,234.5 with 8 decimals
    assert int(log["topics"][2], 16) == 2                        # round 1 was the constructor's
    assert net.aave_v3.oracle.functions.getAssetPrice(net.tokens["WETH"].address).call() == 123_450_000_000


def test_devnet_script_prints_addresses_and_stops_its_node_on_ctrl_c():
    import signal
    import subprocess
    import sys

    # started as from a terminal: a suite run from a background shell inherits SIGINT ignored (bash ignores it
    # in asynchronous commands), and Python leaves an ignored SIGINT ignored, so Ctrl-C would never arrive
    proc = subprocess.Popen([sys.executable, "-m", "backtest.devnet", "--no-liquidity"], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("running"):
                break
        text = "".join(lines)
        assert "aave_v3.pool" in text and "uniswap_v3.factory" in text, text + proc.stderr.read()
        anvil_pid = int(text.split("anvil pid ")[1].split(")")[0])
        assert _alive(anvil_pid)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 0
        assert not _alive(anvil_pid)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
