"""Decode only the log files not decoded yet, and keep each decoded table equal to a full rebuild.

A decoded table stays one file per network (`<table>/<network>.parquet`), in chain order. A manifest
per (network, source) in `<lake>/.ingest/` records, for every log file already decoded, its name, size,
content hash and block range, plus a key of the source's contracts and event definitions. On a run:

- a log file that is new or changed (an overlapping window merged into it) is decoded, and the rows
  its block range held before are dropped from the tables first (so nothing appears twice);
- a log file that is gone (merged into another) has its range dropped the same way;
- a changed contract set or event list (a new Aave reserve's aTokens) means a full rebuild.

Log files of one network never overlap in a lake (logs.write_range merges them), which is what makes a
file's block range the exact set of rows it contributes.

Only tables that gained or lost rows are rewritten (atomically), then the manifest (atomically): a
crash between the two re-decodes the same files next time, with the same result.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from backtest.ingest.checkpoint import merge
from backtest.ingest.decoders import decode_many, decoder_of
from backtest.ingest.events import events_of, notes_of
from backtest.ingest.logs import dedupe, log_files, read_log_file
from backtest.ingest.tables import table_path, write_decoded
from backtest.lake.io import atomic_path
from backtest.lake.schemas import LOGS

VERSION = 1


def manifest_path(lake: Path, network: str, source: str) -> Path:
    return Path(lake) / ".ingest" / f"decoded__{network}__{source}.json"


def definitions(source: str, by_kind: dict[str, list[bytes]]) -> list:
    """The events and note calls of `source` whose contract kind has addresses."""
    return [d for d in [*events_of(source), *notes_of(source)] if by_kind.get(d.contract)]


def _key(source: str, by_kind: dict[str, list[bytes]], lake: Path, logs_dir: Path) -> str:
    parts = sorted((k, a.hex()) for k, v in by_kind.items() for a in v)
    sigs = sorted((d.table, d.signature) for d in definitions(source, by_kind))
    where = Path(logs_dir).resolve()
    if where.is_relative_to(Path(lake).resolve()):      # the lake's own logs: the same key wherever the lake is
        where = where.relative_to(Path(lake).resolve())
    text = json.dumps([VERSION, source, parts, sigs, str(where)])
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _fingerprint(path: Path) -> list:
    """Size and content hash: reading a file is cheap next to decoding it, and unlike a modification
    time the manifest then has the same bytes for the same logs (byte-identical lakes)."""
    data = Path(path).read_bytes()
    return [len(data), hashlib.sha256(data).hexdigest()[:32]]


def _load(path: Path) -> dict:
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return {}


def _usable(files: list[tuple[Path, int, int]]) -> list[tuple[Path, int, int]]:
    """Drop a file whose range lies inside another's: the leftover of a merge that crashed before
    removing it (logs.write_range writes the merged file first). Its logs are all in the bigger file."""
    kept: list[tuple[Path, int, int]] = []
    for p, lo, hi in sorted(files, key=lambda f: (f[1] - f[2], f[0].name)):      # widest first
        if not any(lo2 <= lo and hi <= hi2 for _, lo2, hi2 in kept):
            kept.append((p, lo, hi))
    return sorted(kept, key=lambda f: (f[1], f[0].name))


def _drop_ranges(table: pa.Table, ranges: list[tuple[int, int]]) -> pa.Table:
    """Rows whose block lies in none of the (non-overlapping, inclusive) ranges."""
    if not ranges or table.num_rows == 0:
        return table
    ranges = sorted(ranges)
    los = np.array([lo for lo, _ in ranges], np.int64)
    his = np.array([hi for _, hi in ranges], np.int64)
    b = table["evt_block_number"].to_numpy()
    i = np.searchsorted(los, b, side="right") - 1
    inside = (i >= 0) & (b <= his[np.maximum(i, 0)])
    return table.filter(pa.array(~inside)) if inside.any() else table


def _decode_file(path: Path, defs: list, by_kind: dict[str, list[bytes]]) -> dict[str, pa.Table]:
    every = [a for v in by_kind.values() for a in v]
    logs = read_log_file(path)
    logs = dedupe(logs.filter(pc.is_in(logs["address"], pa.array(every, pa.binary()))), where=str(path))
    tables = decode_many(logs, [(d, by_kind[d.contract]) for d in defs])
    return {d.table: t for d, t in zip(defs, tables)}


def decode_incremental(lake: Path, network: str, source: str, by_kind: dict[str, list[bytes]],
                       logs_dir: Path) -> dict[str, int]:
    """Bring every decoded table of `source` up to date with the log files; rows per table."""
    defs = definitions(source, by_kind)
    mpath = manifest_path(lake, network, source)
    key = _key(source, by_kind, lake, logs_dir)
    manifest = _load(mpath)
    full = manifest.get("key") != key or any(not table_path(lake, d.table, network).exists() for d in defs)
    done: dict[str, list] = {} if full else manifest.get("files", {})
    files = _usable(log_files(logs_dir, network))
    now = {p.name: (p, lo, hi) for p, lo, hi in files}
    prints = {p.name: _fingerprint(p) for p, _, _ in files}
    stale = [(p, lo, hi) for p, lo, hi in files if done.get(p.name, [None])[:2] != prints[p.name]]
    gone = [(v[2], v[3]) for name, v in done.items() if name not in now]
    drop = merge([(lo, hi) for _, lo, hi in stale] + gone)
    new_parts: dict[str, list[pa.Table]] = {d.table: [] for d in defs}
    for p, _lo, _hi in stale:
        for name, t in _decode_file(p, defs, by_kind).items():
            if t.num_rows:
                new_parts[name].append(t)
    out_tables: dict[str, pa.Table] = {}
    counts: dict[str, int] = {}
    for d in defs:
        path = table_path(lake, d.table, network)
        empty = decoder_of(d)(LOGS.empty_table(), d, [])
        old = empty if full else pq.read_table(path).cast(empty.schema)
        kept = old if full else _drop_ranges(old, drop)
        changed = full or kept.num_rows != old.num_rows or bool(new_parts[d.table])
        if changed:
            table = pa.concat_tables([kept, *new_parts[d.table]]) if new_parts[d.table] else kept
            table = table.sort_by([("evt_block_number", "ascending"), ("evt_index", "ascending")]).combine_chunks()
            out_tables[d.table] = table
            counts[d.table] = table.num_rows
        else:
            counts[d.table] = old.num_rows
    write_decoded(lake, network, out_tables)
    record = {"version": VERSION, "key": key,
              "files": {p.name: [*prints[p.name], lo, hi] for p, lo, hi in files}}
    with atomic_path(mpath) as tmp:
        tmp.write_text(json.dumps(record, indent=1, sort_keys=True))
    return counts

