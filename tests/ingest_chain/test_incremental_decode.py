"""Decoding after each ingest touches only the log files not decoded yet, and the decoded tables are
byte for byte those of a rebuild from all logs."""

from __future__ import annotations

import shutil

import numpy as np
import pyarrow.parquet as pq

from backtest.ingest import incremental
from backtest.ingest.events import BY_TABLE
from backtest.ingest.logs import logs_to_table, write_range
from backtest.ingest.pipeline import decode_source, merge_contracts
from backtest.ingest.sources import _row
from tests.ingest_chain.logmaker import encode_log

CTOKEN, OTHER = "0x" + "1" * 40, "0x" + "2" * 40
A, B = "0x" + "a" * 40, "0x" + "b" * 40


def ctoken_logs(rng, address, blocks):
    """An accrual, a mint and a transfer in each block, in log-index order (each cToken its own indexes)."""
    out, first = [], 0 if address == CTOKEN else 10
    for b in blocks:
        amount = int(rng.integers(1, 10**12))
        out.append(encode_log(BY_TABLE["compound_v2_ctoken_accrue_interest"],
                              dict(cashPrior=amount, interestAccumulated=0, borrowIndex=10**18, totalBorrows=0),
                              address=address, block=b, log_index=first + 0))
        out.append(encode_log(BY_TABLE["compound_v2_ctoken_mint"], dict(minter=A, mintAmount=amount, mintTokens=amount),
                              address=address, block=b, log_index=first + 1))
        out.append(encode_log(BY_TABLE["compound_v2_ctoken_transfer"], {"from": address, "to": B, "amount": amount},
                              address=address, block=b, log_index=first + 2))
    return out


def decoded_files(lake):
    return {str(p.relative_to(lake)): p.read_bytes() for p in sorted(lake.glob("compound_v2_*/*.parquet"))}


def test_reruns_decode_only_new_log_files_and_equal_a_full_rebuild(tmp_path, monkeypatch):
    rng = np.random.default_rng(3)
    lake = tmp_path / "lake"
    contracts = merge_contracts(lake, "ethereum", [_row("compound-v2", "ctoken", CTOKEN), _row("compound-v2", "ctoken", OTHER)])
    decoded = []
    real = incremental._decode_file
    monkeypatch.setattr(incremental, "_decode_file", lambda p, *a: decoded.append(p.name) or real(p, *a))
    # three windows of 100 blocks, decoded after each one as an ingest does
    for lo in (0, 100, 200):
        logs = ctoken_logs(rng, CTOKEN, range(lo + 5, lo + 100, 7))
        write_range(lake / "logs", "ethereum", lo, lo + 99, logs_to_table(logs, 1))
        decode_source(lake, "ethereum", "compound-v2", contracts)
    assert decoded == [f"ethereum__logs__{lo:08}_to_{lo + 99:08}.parquet" for lo in (0, 100, 200)]
    # nothing new: nothing decoded, nothing rewritten
    before = decoded_files(lake)
    decoded.clear()
    counts = decode_source(lake, "ethereum", "compound-v2", contracts)
    assert decoded == [] and decoded_files(lake) == before
    assert counts["compound_v2_ctoken_mint"] == 3 * len(range(5, 100, 7))
    # another contract's logs over blocks 150..249 merge two windows into one file: only that file is decoded,
    # and the rows of the two old windows are replaced, not doubled
    write_range(lake / "logs", "ethereum", 150, 249, logs_to_table(ctoken_logs(rng, OTHER, range(150, 250, 11)), 1))
    decode_source(lake, "ethereum", "compound-v2", contracts)
    assert decoded == ["ethereum__logs__00000100_to_00000299.parquet"]
    incremental_bytes = decoded_files(lake)
    # a rebuild from scratch writes the same bytes
    rebuilt = tmp_path / "rebuilt"
    shutil.copytree(lake / "logs", rebuilt / "logs", ignore=shutil.ignore_patterns(".ingest"))
    decode_source(rebuilt, "ethereum", "compound-v2", merge_contracts(rebuilt, "ethereum", contracts.to_pylist()))
    assert decoded_files(rebuilt) == incremental_bytes
    mints = counts["compound_v2_ctoken_mint"] + len(range(150, 250, 11))
    assert pq.read_table(lake / "compound_v2_ctoken_mint" / "ethereum.parquet").num_rows == mints


def test_a_new_contract_means_a_full_rebuild(tmp_path):
    rng = np.random.default_rng(4)
    lake = tmp_path / "lake"
    logs = ctoken_logs(rng, CTOKEN, range(1, 50, 3)) + ctoken_logs(rng, OTHER, range(2, 50, 5))
    write_range(lake / "logs", "ethereum", 0, 99, logs_to_table(logs, 1))
    one = merge_contracts(lake, "ethereum", [_row("compound-v2", "ctoken", CTOKEN)])
    assert decode_source(lake, "ethereum", "compound-v2", one)["compound_v2_ctoken_mint"] == len(range(1, 50, 3))
    # the same log file, now with a second cToken known: its logs are decoded too
    two = merge_contracts(lake, "ethereum", [_row("compound-v2", "ctoken", OTHER)])
    assert decode_source(lake, "ethereum", "compound-v2", two)["compound_v2_ctoken_mint"] == \
        len(range(1, 50, 3)) + len(range(2, 50, 5))
