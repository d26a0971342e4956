"""A dump written by the real cryo (PyPI `cryo`, its `freeze`) is a lake source as it is, and our own
files are cryo's: same names, same rows."""

from __future__ import annotations

import pytest

from backtest.cli import main as cli
from backtest.ingest.logs import log_files, read_logs
from backtest.ingest.pipeline import ingest
from backtest.ingest.rpc import RpcClient
from backtest.ingest.tables import chain_query, connect_chain

cryo = pytest.importorskip("cryo", reason="cryo (PyPI) is a test dependency: pip install cryo==0.3.2")


def updates(net, n=8):
    for i in range(n):
        net.set_prices({"WETH": 2_000_00000000 + i * 10**8, "WBTC": 30_000_00000000 + i})


def freeze(url, out, head, contract=None):
    kw = {"contract": [contract]} if contract else {}
    cryo.freeze("logs", rpc=url, blocks=[f"0:{head + 1}"], output_dir=str(out), chunk_size=20, no_verbose=True, **kw)


def test_our_files_have_cryos_names_and_rows(net, tmp_path):
    updates(net)
    head = net.chain.w3.eth.block_number
    feed = net.feeds["WETH"].address
    freeze(net.chain.url, tmp_path / "cryo", head, contract=feed)
    ingest(RpcClient(net.chain.url), "chainlink", [feed], 0, head, tmp_path / "ours", confirmations=0, chunk_size=20)
    theirs = [p.name for p, _, _ in log_files(tmp_path / "cryo")]
    ours = [p.name for p, _, _ in log_files(tmp_path / "ours" / "logs")]
    assert ours == theirs and ours[0] == "network_31337__logs__00000000_to_00000019.parquet"
    assert read_logs(tmp_path / "ours" / "logs").to_pylist() == read_logs(tmp_path / "cryo").to_pylist()


def test_a_cryo_dump_decodes_in_place_like_an_rpc_ingest(net, tmp_path, capsys):
    updates(net)
    head = net.chain.w3.eth.block_number
    freeze(net.chain.url, tmp_path / "dump", head)            # every contract's logs, as a user would have them
    feeds = [f.address for f in net.feeds.values()]
    before = sorted(p.name for p in (tmp_path / "dump").iterdir())
    # offline: the emitting contracts given with their kind, no node needed
    args = ["ingest", "--source", "chainlink", "--cryo", str(tmp_path / "dump"), "--lake", str(tmp_path / "a")]
    assert cli(args + ["--address", ",".join(f"feed={a}" for a in feeds)]) == 0
    assert sorted(p.name for p in (tmp_path / "dump").iterdir()) == before       # the dump is left as it was
    assert not (tmp_path / "a" / "logs").exists()                                # and nothing is copied
    ingest(RpcClient(net.chain.url), "chainlink", feeds, 0, head, tmp_path / "b", confirmations=0)
    # offline there is no feed metadata (description, decimals): compare the events themselves
    cols = ["aggregator", "block_number", "evt_index", "round_id", "answer_raw"]
    order = [("aggregator", "ascending"), ("block_number", "ascending")]
    from_dump = chain_query(connect_chain(tmp_path / "a"), "chainlink_prices").select(cols).sort_by(order)
    from_rpc = chain_query(connect_chain(tmp_path / "b"), "chainlink_prices").select(cols).sort_by(order)
    # one AnswerUpdated per feed at deployment (4 feeds) + 8 blocks x 2 feeds updated = 20
    assert from_dump.num_rows == 4 + 8 * 2 and from_dump.to_pylist() == from_rpc.to_pylist()
    assert "chainlink_feed_answer_updated: 20 rows" in capsys.readouterr().out
