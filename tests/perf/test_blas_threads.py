"""Same inputs, same bits, whatever BLAS's thread count (backtest/blas.py).

numpy's OpenBLAS sums a matrix-vector product in another order when it splits it over threads, so
plain `A @ x` moves in its last bits between 1 and 3 threads (the control below, taken before the
engine is imported). Once backtest.engine or backtest.protocols is imported, BLAS runs on one thread
and the whole-book and per-row health factors are the same at OPENBLAS_NUM_THREADS=1 and 3. Each
case runs in a fresh interpreter. Where the control does not move (another BLAS, one without
threads), nothing here can tell, and the tests skip.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

BITS = """
import hashlib, numpy as np
rng = np.random.default_rng(3)
dense = rng.random((250003, 37)) * 10.0 ** rng.integers(-6, 12, (250003, 37))
control = hashlib.sha256((dense @ (rng.random(37) * 10.0 ** rng.integers(-3, 6, 37))).tobytes()).hexdigest()
import backtest.engine
from backtest.engine.health import rows_health_factor
from backtest.protocols.rules import health_factor
engine = hashlib.sha256()
for n in (1001, 60001, 250003):
    r = 37
    coll = rng.random((n, r)) * (rng.random((n, r)) < 0.3) * 10.0 ** rng.integers(-2, 6, (n, r))
    debt = rng.random((n, r)) * (rng.random((n, r)) < 0.2) * 10.0 ** rng.integers(-2, 6, (n, r))
    price, lt, floors = rng.random(r) * 10.0 ** rng.integers(-1, 4, r), rng.random(r) * 0.9, np.zeros(n)
    rows = np.arange(n)
    for sub in (rows, rows[::3]):
        engine.update(rows_health_factor(coll, debt, sub, price, lt, floors).tobytes())
    engine.update(health_factor(coll * price, debt * price, lt, floors).tobytes())
print(control, engine.hexdigest())
"""


@pytest.fixture(scope="module")
def bits() -> dict[int, list[str]]:
    got = {}
    for t in (1, 3):
        env = dict(os.environ, OPENBLAS_NUM_THREADS=str(t))
        done = subprocess.run([sys.executable, "-c", BITS], env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]
        got[t] = done.stdout.split()
    if got[1][0] == got[3][0]:
        pytest.skip("this BLAS gives the same bits at 1 and 3 threads even for plain A @ x: nothing to tell")
    return got


def test_health_factors_do_not_depend_on_the_blas_thread_count(bits):
    assert bits[1][1] == bits[3][1]
