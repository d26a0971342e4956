"""Which block ranges of which log filter are already in the lake, so a rerun fetches only the rest.

One JSON file per lake (`logs/.ingest/checkpoints.json`), replaced atomically, and always written
*after* the Parquet file holding the range it records: a crash can lose a checkpoint entry (the
range is fetched again and deduplicated) but never claim a range whose logs are not on disk.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from backtest.errors import InputError
from backtest.lake.io import atomic_path

VERSION = 1


def filter_key(network: str, addresses: list[str], topic0s: list[str] | None) -> str:
    """The same addresses and topics (in any order, any case) give the same key."""
    text = json.dumps([network, sorted(a.lower() for a in addresses), sorted(t.lower() for t in topic0s or [])])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def merge(ranges: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Union of inclusive ranges, sorted; touching ranges ([1,5],[6,9]) join."""
    out: list[list[int]] = []
    for lo, hi in sorted(ranges):
        if out and lo <= out[-1][1] + 1:
            out[-1][1] = max(out[-1][1], hi)
        else:
            out.append([lo, hi])
    return [(lo, hi) for lo, hi in out]


def missing(start: int, end: int, done: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The parts of [start, end] not covered by `done`."""
    gaps, lo = [], start
    for a, b in merge(done):
        if b < lo:
            continue
        if a > end:
            break
        if a > lo:
            gaps.append((lo, a - 1))
        lo = max(lo, b + 1)
    if lo <= end:
        gaps.append((lo, end))
    return gaps


@dataclass
class Checkpoints:
    path: Path
    data: dict

    @classmethod
    def load(cls, logs_dir: Path) -> "Checkpoints":
        path = Path(logs_dir) / ".ingest" / "checkpoints.json"
        if not path.exists():
            return cls(path, {"version": VERSION, "filters": {}})
        try:
            data = json.loads(path.read_text())
            assert data.get("version") == VERSION and isinstance(data.get("filters"), dict)
        except (ValueError, AssertionError):
            raise InputError("not an ingest checkpoint file (delete it to fetch everything again)",
                             file=path) from None
        return cls(path, data)

    def done(self, key: str) -> list[tuple[int, int]]:
        return [tuple(r) for r in self.data["filters"].get(key, {}).get("done", [])]

    def record(self, key: str, start: int, end: int, **about) -> None:
        """Mark [start, end] done for `key` and write the file (call only after the data is on disk)."""
        entry = self.data["filters"].setdefault(key, {"done": []})
        entry.update(about)
        entry["done"] = [list(r) for r in merge(self.done(key) + [(start, end)])]
        with atomic_path(self.path) as tmp:
            tmp.write_text(json.dumps(self.data, indent=1, sort_keys=True) + "\n")
