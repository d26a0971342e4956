"""One replay size: the watchlist engine against the whole-book engine, same inputs, same process.

The whole-book engine (backtest.engine.replay) recomputes every account's HF every round of
every step with numpy: it is both the baseline and the correctness oracle. Above
`reference_limit` account-steps it runs on the first `reference_steps` steps only and its
time is scaled up linearly; that prefix holds no crash (it comes at 40 % of the window), so the
scaled figure underestimates the reference and the ratio is conservative.
"""

from __future__ import annotations

import io
from dataclasses import replace

import pyarrow.parquet as pq

from backtest.bench.book import bench_config, bench_inputs
from backtest.bench.measure import measured
from backtest.config import RunConfig

CONFIG = RunConfig(scenario="bench-synthetic", lake="", seed=0)


def parquet_bytes(table) -> bytes:
    """The bytes backtest.lake.io.write_parquet would write, in memory."""
    buf = io.BytesIO()
    pq.write_table(table.replace_schema_metadata(None), buf, compression="zstd", use_dictionary=True,
                   write_statistics=True)
    return buf.getvalue()


def head(inputs, steps: int):
    return replace(inputs, times=inputs.times[:steps], exogenous=inputs.exogenous[:steps],
                   gas_gwei=inputs.gas_gwei[:steps], step_blocks=inputs.step_blocks[:steps],
                   era_prices=None if inputs.era_prices is None else inputs.era_prices[:steps])


def run_case(accounts: int, steps: int, seed: int = 0, reference_limit: float = 2e9,
             reference_steps: int = 1440, reference: bool = True) -> dict:
    from backtest.engine import reference as whole_book, replay     # not `reference`: the flag below
    warm = bench_inputs(500, 30, seed)
    replay.replay(warm, bench_config(CONFIG, warm))                 # imports and first-call costs out of the way
    with measured() as gen:
        inputs = bench_inputs(accounts, steps, seed)
    config = bench_config(CONFIG, inputs)
    with measured() as engine:
        out = replay.replay(inputs, config)
    row = dict(accounts=accounts, steps=steps, seed=seed, generate_s=gen.seconds, seconds=engine.seconds,
               cpu_seconds=engine.cpu_seconds,
               peak_rss_mb=engine.peak_rss_mb, liquidations=out.liquidations.num_rows,
               account_steps_per_s=accounts * steps / engine.seconds)
    if not reference:                                             # the scaling curve: the engine alone
        return row
    full = accounts * steps <= reference_limit or steps <= reference_steps
    ref_inputs = inputs if full else head(inputs, reference_steps)
    with measured() as ref:
        slow = whole_book.replay(ref_inputs, config)
    check = out if full else replay.replay(ref_inputs, config)
    row.update(reference_seconds=ref.seconds * steps / len(ref_inputs.times), reference_peak_rss_mb=ref.peak_rss_mb,
               reference_steps=len(ref_inputs.times), reference_extrapolated=not full,
               identical=parquet_bytes(slow.liquidations) == parquet_bytes(check.liquidations),
               checked_liquidations=slow.liquidations.num_rows)
    row["speedup"] = row["reference_seconds"] / row["seconds"]
    return row
