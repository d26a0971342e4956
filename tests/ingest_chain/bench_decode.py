"""How fast the vectorised decoder is against web3's per-log decoder (not a test; run it by hand):

    python tests/ingest_chain/bench_decode.py

200,000 Uniswap v3 Swap logs with mainnet-sized values (seeded), decoded in one call, against
1,000 of them through web3's `process_log`.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from backtest.ingest.decode import decode  # noqa: E402
from backtest.ingest.events import BY_TABLE  # noqa: E402
from backtest.ingest.logs import logs_to_table  # noqa: E402
from tests.ingest_chain.logmaker import encode_log  # noqa: E402
from tests.ingest_chain.test_decode_both_ways import web3_decode  # noqa: E402


def main() -> None:
    ev = BY_TABLE["uniswap_v3_pool_swap"]
    rng = np.random.default_rng(0)
    base = [encode_log(ev, {"sender": "0x" + "11" * 20, "recipient": "0x" + "22" * 20,
                            "amount0": int(rng.integers(-10**18, 10**18)) * 1000,
                            "amount1": -int(rng.integers(1, 10**12)) * 10**6,
                            "sqrtPriceX96": int(rng.integers(1, 2**62)) * 2**40,
                            "liquidity": int(rng.integers(1, 2**62)) * 10**6,
                            "tick": int(rng.integers(-800_000, 800_000))},
                       address="0x" + "ab" * 20, block=i, log_index=0) for i in range(1000)]
    big = pa.concat_tables([logs_to_table(base, 1)] * 200)
    t0 = time.perf_counter()
    out = decode(big, ev, [bytes.fromhex("ab" * 20)])
    fast = time.perf_counter() - t0
    t0 = time.perf_counter()
    for lg in base:
        web3_decode(ev, lg)
    slow = time.perf_counter() - t0
    print(f"vectorised: {out.num_rows:,} logs in {fast:.2f} s = {out.num_rows / fast:,.0f} logs/s")
    print(f"web3 process_log: {len(base):,} logs in {slow:.2f} s = {len(base) / slow:,.0f} logs/s")


if __name__ == "__main__":
    main()
