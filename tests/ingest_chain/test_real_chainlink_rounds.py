"""Real Chainlink rounds (ETH/USD and BTC/USD, phase 6, 2023-04..2024-01, read from the proxies with
getRoundData) re-emitted as the AnswerUpdated logs their aggregator wrote, then decoded and rebuilt by
`chainlink_prices`: every round id, answer and time comes back exactly."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from backtest.ingest.events import BY_TABLE
from backtest.ingest.logs import logs_to_table, write_range
from backtest.ingest.pipeline import decode_source, merge_contracts
from backtest.ingest.sources import _row
from backtest.ingest.tables import chain_query, connect_chain
from tests.ingest_chain.logmaker import encode_log

REAL = Path(__file__).resolve().parents[2] / ".." / "shared" / "data" / "real" / "chainlink_sajanrajdev"
PROXIES = {"0x5f4eC3Df9cbd43714FE2740f5E3616155c5b8419": "ETH / USD", "0xF4030086522a5bEEa4988F8cA5B36dbC97BeE88c": "BTC / USD"}
PHASE = 6


def rounds(proxy):
    with open(REAL / f"{proxy}.csv") as f:
        rows = list(csv.DictReader(f))
    # newest first in the file; the row with update 0 is getRoundData of round 0, which no aggregator wrote
    return [r for r in reversed(rows) if int(r["update"]) != 0]


def test_real_rounds_survive_encode_decode_and_the_price_path_query(tmp_path):
    if not REAL.is_dir():
        pytest.skip(f"real Chainlink dumps not found at {REAL}")
    ev = BY_TABLE["chainlink_feed_answer_updated"]
    logs, contracts, expected = [], [], {}
    for k, (proxy, name) in enumerate(PROXIES.items()):
        aggregator = "0x" + f"{k + 1:02x}" * 20
        contracts.append(_row("chainlink", "feed", aggregator, asset=proxy.lower(), symbol=name, decimals=8, phase=PHASE))
        real = rounds(proxy)
        expected[proxy.lower()] = real
        for i, r in enumerate(real):
            proxy_round = int(r["round"])
            assert proxy_round >> 64 == PHASE
            logs.append(encode_log(ev, {"current": int(r["answer"]), "roundId": proxy_round & (2**64 - 1),
                                        "updatedAt": int(r["update"])}, address=aggregator,
                                   block=1_000_000 + i, log_index=k))
    write_range(tmp_path / "logs", "ethereum", 0, 99_999_999, logs_to_table(logs, 1))
    decode_source(tmp_path, "ethereum", "chainlink", merge_contracts(tmp_path, "ethereum", contracts))
    path = chain_query(connect_chain(tmp_path), "chainlink_prices").to_pylist()
    for proxy, real in expected.items():
        mine = [p for p in path if p["feed"] == proxy]
        assert len(mine) == len(real) > 10_000
        assert [p["proxy_round_id"] for p in mine] == [r["round"] for r in real]
        assert [int(p["answer_raw"]) for p in mine] == [int(r["answer"]) for r in real]
        assert [int(p["updated_at"].timestamp()) for p in mine] == [int(r["update"]) for r in real]
        assert all(p["answer"] == int(r["answer"]) / 1e8 for p, r in zip(mine, real))
    eth = [p["answer"] for p in path if p["feed"] == "0x5f4ec3df9cbd43714fe2740f5e3616155c5b8419"]
    assert 1_500 < min(eth) < 1_600 and 2_300 < max(eth) < 2_800     # ETH/USD, Apr 2023 - Jan 2024
