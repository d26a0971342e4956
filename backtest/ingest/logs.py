"""Raw logs in cryo's `logs` schema and file names; a cryo dump folder reads the same way.

Files are `{network}__logs__{start:08}_to_{end:08}.parquet` over an inclusive block range
(cryo `types/files.rs`, `types/chunks/number_chunk.rs`). Two ingests of different contracts over
the same blocks share files: a new range that overlaps existing files is merged with them into one
file (deduplicated on block_number, log_index, which are unique on a chain), and only then are the
old files removed; readers deduplicate too, so a crash between those two steps loses nothing.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from backtest.errors import InputError
from backtest.lake.io import atomic_path
from backtest.lake.schemas import LOGS

# cryo's chain-id -> network names for the common chains; others are `network_<id>` as cryo 0.3 names them.
NETWORKS = {1: "ethereum", 10: "optimism", 56: "bsc", 100: "gnosis", 137: "polygon", 8453: "base",
            42161: "arbitrum", 43114: "avalanche", 11155111: "sepolia", 17000: "holesky"}
FILE_RE = re.compile(r"^(?P<network>.+?)__logs__(?:(?P<label>.+)__)?(?P<start>\d+)_to_(?P<end>\d+)\.parquet$")
SORT = [("block_number", "ascending"), ("log_index", "ascending")]


def network_name(chain_id: int, override: str | None = None) -> str:
    return override or NETWORKS.get(chain_id, f"network_{chain_id}")


def log_file_name(network: str, start: int, end: int) -> str:
    return f"{network}__logs__{start:08}_to_{end:08}.parquet"


def _bytes(hexes: list[str | None]) -> pa.Array:
    return pa.array([None if h is None else bytes.fromhex(h[2:]) for h in hexes], pa.binary())


def logs_to_table(raw: list[dict], chain_id: int) -> pa.Table:
    """JSON-RPC log objects -> the cryo table (removed logs dropped), sorted by block and log index."""
    raw = [lg for lg in raw if not lg.get("removed")]
    topics = [lg.get("topics") or [] for lg in raw]
    data = [bytes.fromhex((lg.get("data") or "0x")[2:]) for lg in raw]
    cols = {
        "block_number": pa.array([int(lg["blockNumber"], 16) for lg in raw], pa.uint32()),
        "transaction_index": pa.array([int(lg["transactionIndex"], 16) for lg in raw], pa.uint32()),
        "log_index": pa.array([int(lg["logIndex"], 16) for lg in raw], pa.uint32()),
        "transaction_hash": _bytes([lg["transactionHash"] for lg in raw]),
        "address": _bytes([lg["address"].lower() for lg in raw]),
    }
    for i in range(4):
        cols[f"topic{i}"] = _bytes([t[i] if len(t) > i else None for t in topics])
    cols["data"] = pa.array(data, pa.binary())
    cols["n_data_bytes"] = pa.array([len(d) for d in data], pa.uint32())
    cols["chain_id"] = pa.array([chain_id] * len(raw), pa.uint64())
    return pa.table(cols, schema=LOGS).sort_by(SORT)


def dedupe(table: pa.Table, where: str = "logs") -> pa.Table:
    """One row per (chain_id, block_number, log_index), sorted; the first copy wins. Copies of one log are
    expected (overlapping windows, a crash between writes); two *different* logs at one position (other
    transaction hashes: a reorg's orphaned log beside the canonical one, or two chains' files in one
    folder) are warned about on stderr, naming block, log index and both hashes (`collisions`)."""
    if table.num_rows == 0:
        return table
    table = table.sort_by([("chain_id", "ascending")] + SORT) if pc.count_distinct(table["chain_id"]).as_py() > 1 \
        else table.sort_by(SORT)
    chain = table["chain_id"].fill_null(0).to_numpy()
    key = (table["block_number"].to_numpy().astype(np.uint64) << np.uint64(32)) \
        | table["log_index"].to_numpy().astype(np.uint64)
    keep = np.ones(len(key), bool)
    keep[1:] = (key[1:] != key[:-1]) | (chain[1:] != chain[:-1])
    if keep.all():
        return table
    for block, index, kept, dropped in collisions(table, keep):
        print(f"warning: {where}: two different logs at block {block}, log index {index}: kept tx {kept}, dropped "
              f"tx {', '.join(dropped)} (a reorged block in the data? check the block's hash)", file=sys.stderr)
    return table.filter(pa.array(keep))


def collisions(table: pa.Table, keep: np.ndarray) -> list[tuple[int, int, str, list[str]]]:
    """(block, log index, kept tx hash, [other tx hashes]) where a dropped copy's transaction differs."""
    dropped = np.flatnonzero(~keep)
    first = np.maximum.accumulate(np.where(keep, np.arange(len(keep)), 0))[dropped]   # the kept row of each
    hashes = table["transaction_hash"]
    out: dict[int, tuple[int, int, str, list[str]]] = {}
    for row, head in zip(dropped.tolist(), first.tolist()):
        kept, other = hashes[head].as_py(), hashes[row].as_py()
        if kept == other:
            continue
        hex_ = lambda b: "0x" + b.hex() if b is not None else "(none)"  # noqa: E731
        entry = out.setdefault(head, (int(table["block_number"][head].as_py()), int(table["log_index"][head].as_py()),
                                      hex_(kept), []))
        if hex_(other) not in entry[3]:
            entry[3].append(hex_(other))
    return list(out.values())


def parse_name(path: Path) -> tuple[str, int, int] | None:
    m = FILE_RE.match(Path(path).name)
    return (m["network"], int(m["start"]), int(m["end"])) if m else None


def log_files(folder: Path, network: str | None = None) -> list[tuple[Path, int, int]]:
    out = []
    for p in sorted(Path(folder).glob("*.parquet")):
        parsed = parse_name(p)
        if parsed and not p.name.startswith(".") and (network is None or parsed[0] == network):
            out.append((p, parsed[1], parsed[2]))
    return out


def read_log_file(path: Path) -> pa.Table:
    """One file (ours or cryo's, binary or --hex columns), conformed to LOGS."""
    try:
        t = pq.read_table(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputError(f"not a readable Parquet file ({str(exc).splitlines()[0]})", file=path) from None
    for col in ("block_number", "log_index", "address", "topic0", "data"):
        if col not in t.column_names:
            raise InputError("missing a column of cryo's logs schema", file=path, column=col)
    cols = []
    for f in LOGS:
        if f.name not in t.column_names:
            if f.name == "n_data_bytes":
                cols.append(pc.cast(pc.binary_length(_as_binary(t["data"], path, "data")), pa.uint32()))
            else:
                cols.append(pa.nulls(t.num_rows, f.type))
            continue
        c = t[f.name]
        if pa.types.is_binary(f.type):
            c = _as_binary(c, path, f.name)
        try:
            cols.append(c.cast(f.type) if c.type != f.type else c)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise InputError(f"expected {f.type}, found {c.type} ({exc})", file=path, column=f.name) from None
    return pa.Table.from_arrays(cols, schema=LOGS)


def _as_binary(col, path, name) -> pa.ChunkedArray:
    """cryo --hex writes 0x-strings; turn them back into bytes."""
    if pa.types.is_binary(col.type) or pa.types.is_large_binary(col.type):
        return col.cast(pa.binary())
    if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
        vals = col.to_pylist()
        try:
            return pa.chunked_array([pa.array([None if v is None else bytes.fromhex(v.removeprefix("0x"))
                                               for v in vals], pa.binary())])
        except ValueError:
            raise InputError("not hex text", file=path, column=name) from None
    raise InputError(f"expected binary or 0x-hex text, found {col.type}", file=path, column=name)


def read_logs(folder: Path, *, start: int | None = None, end: int | None = None,
              addresses: list[bytes] | None = None, network: str | None = None) -> pa.Table:
    """Every log file of a folder (a lake's logs/ or a cryo dump), deduplicated and in chain order.

    Give `network` when the folder may hold several chains: the same address can exist on each."""
    parts = []
    for path, lo, hi in log_files(folder, network):
        if (start is not None and hi < start) or (end is not None and lo > end):
            continue
        parts.append(read_log_file(path))
    if not parts:
        return LOGS.empty_table()
    t = pa.concat_tables(parts)
    if start is not None:
        t = t.filter(pc.greater_equal(t["block_number"], start))
    if end is not None:
        t = t.filter(pc.less_equal(t["block_number"], end))
    if addresses is not None:
        t = t.filter(pc.is_in(t["address"], pa.array(addresses, pa.binary())))
    return dedupe(t, where=str(folder))


def write_range(folder: Path, network: str, start: int, end: int, table: pa.Table) -> Path:
    """Write the logs of [start, end], merged with any file of this network overlapping it."""
    folder = Path(folder)
    overlapping = [(p, lo, hi) for p, lo, hi in log_files(folder, network) if lo <= end and hi >= start]
    if overlapping:
        start = min([start] + [lo for _, lo, _ in overlapping])
        end = max([end] + [hi for _, _, hi in overlapping])
        table = pa.concat_tables([table] + [read_log_file(p) for p, _, _ in overlapping])
    final = folder / log_file_name(network, start, end)
    table = dedupe(table.replace_schema_metadata(None), where=str(final))
    with atomic_path(final) as tmp:
        pq.write_table(table, tmp, compression="lz4", write_statistics=True)
    for p, _, _ in overlapping:
        if p != final:
            p.unlink(missing_ok=True)
    return final
