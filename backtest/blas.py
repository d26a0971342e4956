"""BLAS on one thread in any process that runs the engine or the protocols' maths.

OpenBLAS sums a matrix-vector product in another order when it splits it over threads, so with its
default (a thread per core) the last bits of a whole-book health factor (`rules.health_factor`'s
`coll_usd @ lt`: accounts.parquet, the reference loop) and, on a knife edge, whether an account is
liquidated would follow the machine's core count: tests/perf/test_blas_threads.py shows plain
`A @ x` and the whole-book health factor of a 60,001-row book moving between 1 and 3 threads here.
So the limit is set once, at import (threadpoolctl), for the whole process: its own BLAS calls run
single-threaded from then on (the engine's products are matrix-vector and memory-bound; what a
second thread bought is in docs/performance.md). Another CPU type can still pick another OpenBLAS
kernel (DYNAMIC_ARCH), so bits across CPU types are not promised.
"""

from __future__ import annotations

import numpy  # noqa: F401  - loads numpy's OpenBLAS first: the limit applies to the libraries loaded now
from threadpoolctl import threadpool_limits

LIMITS = threadpool_limits(limits=1, user_api="blas")
