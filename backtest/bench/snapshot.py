"""Positions at a block from N lending events: the project's SQL in DuckDB against pandas.

SYNTHETIC `lending_borrow` / `lending_supply` rows (Dune spellbook columns and signs: repays
and withdrawals negative) are drawn by a seeded generator and written as the lake writes them
(`ingest.dune.write_lending_rows`: clustered by position), so the bench reads files as a lake does
(the draw and the write are not timed). The engine is queries/lending_flows_at_block.sql
(net principal per account and token up to the block); the baseline reads the same files with
pyarrow and groups them with pandas. Both must give the same totals.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from backtest.bench.measure import measured
from backtest.ingest.dune import write_lending_rows
from backtest.lake.catalog import run_query

FIRST_BLOCK = 18_000_000
EVENTS_PER_BLOCK = 40

def _dictionary(indices: np.ndarray, values: list[str]) -> pa.DictionaryArray:
    return pa.DictionaryArray.from_arrays(pa.array(indices.astype(np.int32)), pa.array(values, pa.string()))


def write_events(folder: Path, n_events: int, accounts: int, seed: int = 0) -> dict[str, Path]:
    """n_events split evenly between borrow and supply rows; returns the Parquet file per table."""
    rng = np.random.default_rng([seed, n_events, accounts])
    names = [f"0x{i:040x}" for i in rng.choice(2**62, size=accounts, replace=False)]
    tokens = [f"0x{i:040x}" for i in range(1, 13)]
    files = {}
    for side, (table, who, kind) in enumerate((("lending_borrow", "borrower", "borrow"),
                                                ("lending_supply", "depositor", "deposit"))):
        n = n_events // 2
        token = rng.integers(0, len(tokens), n)
        raw = rng.integers(1, 10**12, n) * np.where(rng.random(n) < 1 / 3, -1, 1)      # repays/withdrawals < 0
        zeros = np.zeros(n, dtype=np.int32)
        table_ = pa.table({
            "blockchain": _dictionary(zeros, ["ethereum"]), "project": _dictionary(zeros, ["aave"]),
            "version": _dictionary(zeros, ["3"]), "transaction_type": _dictionary(zeros, [kind]),
            who: _dictionary(rng.integers(0, accounts, n), names), "on_behalf_of": pa.nulls(n, pa.string()),
            "token_address": _dictionary(token, tokens), "symbol": _dictionary(token, [f"T{i}" for i in range(12)]),
            "amount_raw": raw, "amount": raw / 1e6,
            "block_number": FIRST_BLOCK + (2 * np.arange(n) + side) // EVENTS_PER_BLOCK,
        })
        files[table] = write_lending_rows(table_, Path(folder) / f"{table}.parquet")      # the lake's layout
    return files


def pandas_flows(files: dict[str, Path], block: int):
    """The straightforward way: read everything, filter, group."""
    frames = []
    for table, who, col in (("lending_borrow", "borrower", "net_borrowed"),
                            ("lending_supply", "depositor", "net_supplied")):
        df = pq.read_table(files[table], columns=[who, "token_address", "amount", "block_number"]).to_pandas()
        df = df[df["block_number"] <= block]
        frames.append(df.groupby([who, "token_address"], sort=True)["amount"].sum().rename(col)
                      .rename_axis(["account", "token_address"]))
    import pandas as pd
    return pd.concat(frames, axis=1).fillna(0.0)


def run_case(n_events: int, accounts: int, seed: int = 0) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-snapshot-") as tmp:
        with measured() as gen:
            files = write_events(Path(tmp), n_events, accounts, seed)
        last = FIRST_BLOCK + n_events // EVENTS_PER_BLOCK
        block = FIRST_BLOCK + int(0.9 * (last - FIRST_BLOCK))        # most of the history, not all of it
        con = duckdb.connect()
        con.execute("SET enable_progress_bar = false")
        for table, path in files.items():
            con.execute(f"CREATE VIEW {table} AS SELECT * FROM read_parquet('{path}')")
        with measured() as engine:
            positions = run_query(con, "lending_flows_at_block", {"block": block})
        with measured() as base:
            reference = pandas_flows(files, block)
    same = (positions.num_rows == len(reference)
            and np.isclose(float(np.sum(positions["net_borrowed"])), reference["net_borrowed"].sum(), rtol=1e-9)
            and np.isclose(float(np.sum(positions["net_supplied"])), reference["net_supplied"].sum(), rtol=1e-9))
    return dict(events=n_events, accounts=accounts, block=block, generate_s=gen.seconds, seconds=engine.seconds,
                cpu_seconds=engine.cpu_seconds,
                peak_rss_mb=engine.peak_rss_mb, positions=positions.num_rows, events_per_s=n_events / engine.seconds,
                reference_seconds=base.seconds, reference_peak_rss_mb=base.peak_rss_mb, identical=bool(same),
                speedup=base.seconds / engine.seconds)
