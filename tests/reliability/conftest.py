"""Shared pieces of the reliability tests: a tiny sample lake, a folder hash, and a copy per case."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def folder_hash(folder: Path) -> str:
    """SHA-256 over every file's relative path and bytes, in sorted order: equal iff same tree and bytes."""
    h = hashlib.sha256()
    for f in sorted(p for p in Path(folder).rglob("*") if p.is_file()):
        h.update(str(f.relative_to(folder)).encode() + b"\0")
        h.update(f.read_bytes())
        h.update(b"\0")
    return h.hexdigest()


def folder_listing(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in Path(folder).rglob("*"))


@pytest.fixture(scope="session")
def base_lake(tmp_path_factory) -> Path:
    """500 accounts, seed 3: small enough to copy for every bad-input case."""
    from backtest.sample.lake import write_sample_lake
    lake = tmp_path_factory.mktemp("base") / "lake"
    write_sample_lake(lake, seed=3, n_accounts=500)
    return lake


@pytest.fixture
def lake(base_lake, tmp_path) -> Path:
    """A private copy of the base lake that a case may break."""
    dst = tmp_path / "lake"
    shutil.copytree(base_lake, dst)
    return dst
