"""Our vectorised decoder and web3's contract event decoder agree on every supported event."""

from __future__ import annotations

import numpy as np
import pytest
from hexbytes import HexBytes
from web3 import Web3

from backtest.ingest.decode import decode
from backtest.ingest.decoders import decoder_of
from backtest.ingest.events import EVENTS
from backtest.ingest.logs import logs_to_table
from tests.ingest_chain.logmaker import abi_of, encode_log, random_value

ROWS = 12          # per event: the smallest and largest value of every type, then random ones
W3 = Web3()


def web3_decode(event, log):
    contract = W3.eth.contract(abi=[abi_of(event)])
    raw = {**log, "topics": [HexBytes(t) for t in log["topics"]], "data": HexBytes(log["data"]),
           "blockNumber": int(log["blockNumber"], 16), "logIndex": int(log["logIndex"], 16),
           "transactionIndex": int(log["transactionIndex"], 16), "transactionHash": HexBytes(log["transactionHash"]),
           "blockHash": HexBytes(log["blockHash"]), "address": Web3.to_checksum_address(log["address"])}
    args = getattr(contract.events, event.name)().process_log(raw)["args"]
    return {**args, **args[event.struct]} if event.struct else args


def ours_as_python(value, typ):
    """Our column values back to what web3 returns (addresses compared in lower case)."""
    if typ == "bytes32":
        return bytes.fromhex(value[2:])
    if typ.startswith(("uint", "int")) and isinstance(value, str):
        return int(value)
    return value


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: e.table)
def test_every_event_decodes_like_web3(event):
    rng = np.random.default_rng(EVENTS.index(event))
    address = "0x" + "ab" * 20
    values = [{p.name: random_value(rng, p.type, i if i < 2 else 2) for p in event.params} for i in range(ROWS)]
    logs = [encode_log(event, v, address=address, block=100 + i, log_index=i) for i, v in enumerate(values)]
    ours = decoder_of(event)(logs_to_table(logs, 1), event, [bytes.fromhex("ab" * 20)]).to_pylist()
    assert len(ours) == ROWS
    for row, log in zip(ours, logs):
        theirs = web3_decode(event, log)
        for p in event.params:
            got = ours_as_python(row[p.name], p.type)
            want = theirs[p.name]
            if p.type == "address":
                got, want = got.lower(), want.lower()
            assert got == want, (p.name, p.type)
            if p.type.startswith(("uint", "int")) and p.type not in ("uint8", "uint16", "uint24", "int24"):
                f = row.get(p.name + "_f64")
                if f is not None:
                    assert f == float(want), (p.name, "float64 is the correctly rounded value")
        assert row["evt_block_number"] == int(log["blockNumber"], 16)
        assert row["evt_tx_hash"] == log["transactionHash"]


def test_address_filter_separates_colliding_topics():
    """Compound v2 Mint and Uniswap v2 Mint share topic0 (0x4c209b5f...) and even the same
    (non-indexed) shape differs only by `indexed`: the address list decides which table a log joins."""
    from backtest.ingest.events import BY_TABLE
    comp, uni = BY_TABLE["compound_v2_ctoken_mint"], BY_TABLE["uniswap_v2_pair_mint"]
    assert comp.topic0 == uni.topic0
    rng = np.random.default_rng(5)
    ctoken, pair = "0x" + "01" * 20, "0x" + "02" * 20
    logs = [encode_log(comp, {p.name: random_value(rng, p.type, 2) for p in comp.params}, address=ctoken, block=1, log_index=0),
            encode_log(uni, {p.name: random_value(rng, p.type, 2) for p in uni.params}, address=pair, block=1, log_index=1)]
    table = logs_to_table(logs, 1)
    assert decode(table, comp, [bytes.fromhex("01" * 20)]).num_rows == 1
    assert decode(table, comp, [bytes.fromhex("02" * 20)]).num_rows == 0    # shape differs: skipped
    assert decode(table, uni, [bytes.fromhex("02" * 20)]).num_rows == 1


def test_wrong_shape_with_same_topic_is_skipped_not_misread():
    """An ERC-721 Transfer (3 indexed) has the ERC-20 Transfer's topic0; it must not decode as a cToken Transfer."""
    from backtest.ingest.events import BY_TABLE
    ev = BY_TABLE["compound_v2_ctoken_transfer"]
    erc20 = encode_log(ev, {"from": "0x" + "11" * 20, "to": "0x" + "22" * 20, "amount": 5}, address="0x" + "01" * 20,
                       block=1, log_index=0)
    erc721 = dict(erc20, logIndex="0x1", data="0x", topics=erc20["topics"] + ["0x" + (7).to_bytes(32, "big").hex()])
    out = decode(logs_to_table([erc20, erc721], 1), ev, [bytes.fromhex("01" * 20)])
    assert out["amount"].to_pylist() == ["5"]
