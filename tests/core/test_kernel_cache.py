"""backtest/kernel_cache.py: numba's cache of a kernel whose imported module changed is dropped, so the kernel
is compiled again from the new code (numba itself checks only the kernel's own file)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from backtest import kernel_cache

REPO = Path(__file__).resolve().parents[2]


def test_imports_reads_from_and_import_lines_of_the_package_only():
    text = textwrap.dedent("""\
        import numpy as np
        import pkg.deep.mod
        from pkg.a import b, c as d  # a comment, e
        from pkg import a
        from pkg.x import (f,
                           g)
            from pkg.lazy import h
        from other import pkg
    """)
    known = {"pkg", "pkg.a", "pkg.a.b", "pkg.deep.mod", "pkg.x", "pkg.lazy", "pkg.unused"}
    assert kernel_cache.imports(text, known, "pkg") == {"pkg.deep.mod", "pkg.a.b", "pkg.a", "pkg.x", "pkg.lazy"}


def test_a_kernels_key_follows_what_it_imports_through_other_modules():
    sources = {"pkg.k": b"import numba\nfrom pkg.m import f\n", "pkg.m": b"from pkg.c import X\ndef f(): pass\n",
               "pkg.c": b"X = 1\n", "pkg.other": b"import numba\n", "pkg.plain": b"from pkg.k import g\n"}
    before = kernel_cache.kernel_keys(sources, "pkg")
    assert set(before) == {"pkg.k", "pkg.other"}                 # only modules that use numba are keyed
    after = kernel_cache.kernel_keys({**sources, "pkg.c": b"X = 2\n"}, "pkg")
    assert after["pkg.k"] != before["pkg.k"]                      # two imports away
    assert after["pkg.other"] == before["pkg.other"]
    assert kernel_cache.kernel_keys({**sources, "pkg.plain": b"#\n"}, "pkg") == before   # not imported by a kernel


def _package(tmp: Path, value: int) -> None:
    pkg = tmp / "kc_demo"
    pkg.mkdir(exist_ok=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "callee.py").write_text(f"import numba\n\n\n@numba.njit(cache=True)\ndef f():\n    return {value}\n")
    (pkg / "caller.py").write_text("import numba\n\nfrom kc_demo.callee import f\n\n\n"
                                   "@numba.njit(cache=True)\ndef g():\n    return f() + 10\n")


def _run(tmp: Path, check: bool) -> int:
    code = ("import pathlib, sys\n"
            + ("from backtest.kernel_cache import fresh\nfresh(pathlib.Path(sys.argv[1]) / 'kc_demo')\n" if check else "")
            + "from kc_demo.caller import g\nprint(g())\n")
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    env["PYTHONPATH"] = os.pathsep.join([str(tmp), str(REPO)])
    out = subprocess.run([sys.executable, "-c", code, str(tmp)], env=env, capture_output=True, text=True, check=True)
    return int(out.stdout.split()[-1])


def test_an_edited_callee_is_compiled_into_its_caller_again(tmp_path):
    _package(tmp_path, 1)
    assert _run(tmp_path, check=True) == 11
    assert list((tmp_path / "kc_demo" / "__pycache__").glob("caller.*.nbi"))     # cached
    _package(tmp_path, 2)
    # what numba does alone: the caller's cache, judged by caller.py only, keeps the old callee (if this ever
    # fails, numba tracks dependencies itself and kernel_cache.py can go)
    assert _run(tmp_path, check=False) == 11
    assert _run(tmp_path, check=True) == 12
    assert _run(tmp_path, check=True) == 12                       # and nothing to drop the next time
