"""Resume: every finished task is one small JSON file named by its key, written atomically.

A rerun of the same sweep into the same folder skips the tasks whose file is there. Floats go
through `repr`, so a resumed sweep's table is byte-identical to one that never stopped.
"""

from __future__ import annotations

import json
from pathlib import Path

from backtest.lake.io import atomic_path

FOLDER = "tasks"


def task_file(out: Path, key: str) -> Path:
    return Path(out) / FOLDER / f"{key}.json"


def save(out: Path, result: dict) -> None:
    record = {k: result[k] for k in ("key", "set_id", "path", "metrics")}
    with atomic_path(task_file(out, result["key"])) as tmp:
        tmp.write_text(json.dumps(record, allow_nan=True))      # metric order kept: it is the column order


def load_done(out: Path, keys: set[str]) -> dict[str, dict]:
    """Finished tasks among `keys`; a file that does not parse is treated as not finished."""
    done = {}
    for key in sorted(keys):
        f = task_file(out, key)
        if not f.exists():
            continue
        try:
            record = json.loads(f.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        if record.get("key") == key and isinstance(record.get("metrics"), dict):
            done[key] = record
    return done
