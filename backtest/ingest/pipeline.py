"""One ingest run: find the contracts, fetch the missing block ranges, write logs then checkpoints, decode.

Order of writes for every window of blocks: the logs file (atomic), then the checkpoint entry
(atomic). Contracts and block timestamps are merged into their tables; decoded tables are brought up
to date from the log files not decoded yet, and equal a rebuild from all logs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from backtest.errors import InputError
from backtest.ingest import checkpoint as ck
from backtest.ingest.events import topic0s_of
from backtest.ingest.incremental import decode_incremental
from backtest.ingest.logs import logs_to_table, network_name, read_logs, write_range
from backtest.ingest.rpc import RangePlan, RpcClient, iter_log_ranges, redact
from backtest.ingest.sources import discover
from backtest.ingest.tables import BLOCKS, CONTRACTS, read_small
from backtest.lake.io import write_parquet
from backtest.progress import Progress

# contracts rows whose logs are not fetched: a Chainlink proxy (its aggregators emit), an Aave price
# source and a Comet collateral asset (read by other sources or by eth_call), Morpho's market tokens,
# an Aave-style addresses provider and data provider (recorded for reference)
SILENT_KINDS = ("proxy", "price_source", "collateral", "token", "provider", "data_provider")


@dataclass
class IngestReport:
    source: str
    network: str
    start: int
    end: int
    fetched: list[tuple[int, int]] = field(default_factory=list)
    logs: int = 0
    requests: int = 0
    retries: int = 0
    seconds: float = 0.0
    decoded: dict[str, int] = field(default_factory=dict)

    def line(self) -> str:
        blocks = sum(b - a + 1 for a, b in self.fetched)
        rate = f"{blocks / self.seconds:,.0f} blocks/s, {self.logs / self.seconds:,.0f} logs/s" if self.seconds else ""
        return (f"{self.source}: blocks {self.start}..{self.end}, fetched {blocks} blocks in {len(self.fetched)} "
                f"ranges, {self.logs} logs, {self.requests} requests ({self.retries} retried) {rate}")


def contracts_path(lake: Path, network: str) -> Path:
    return Path(lake) / "contracts" / f"{network}.parquet"


def blocks_path(lake: Path, network: str) -> Path:
    return Path(lake) / "blocks" / f"{network}.parquet"


def merge_contracts(lake: Path, network: str, rows: list[dict]) -> pa.Table:
    old = read_small(contracts_path(lake, network), CONTRACTS).to_pylist()
    by_addr = {(r["source"], r["address"]): r for r in old}
    by_addr.update({(r["source"], r["address"]): r for r in rows})
    table = pa.Table.from_pylist(sorted(by_addr.values(), key=lambda r: (r["source"], r["kind"], r["address"])),
                                 schema=CONTRACTS)
    write_parquet(table, contracts_path(lake, network))
    return table


def add_block_times(client: RpcClient, lake: Path, network: str, numbers: set[int]) -> None:
    old = read_small(blocks_path(lake, network), BLOCKS)
    have = set(old["block_number"].to_pylist())
    need = sorted(n for n in numbers if n not in have)
    if not need:
        return
    new = client.blocks(need)
    table = pa.concat_tables([old, pa.table({
        "block_number": pa.array(list(new), pa.int64()),
        "timestamp": pa.array([ts for ts, _ in new.values()], pa.int64()),
        "block_hash": pa.array([h for _, h in new.values()], pa.string())}, schema=BLOCKS)])
    write_parquet(table.sort_by("block_number"), blocks_path(lake, network))


def check_no_reorg(client: RpcClient, lake: Path, network: str, safe: int, confirmations: int) -> None:
    """The newest block this lake knows (at or below the safe head) must still have the same hash."""
    known = [r for r in read_small(blocks_path(lake, network), BLOCKS).to_pylist()
             if r["block_hash"] and r["block_number"] <= safe]
    if not known:
        return
    last = max(known, key=lambda r: r["block_number"])
    now = client.blocks([last["block_number"]])[last["block_number"]][1]
    if now != last["block_hash"]:
        n = last["block_number"]
        raise InputError(f"block {n} changed since the last ingest (hash {last['block_hash'][:12]}... is now "
                         f"{str(now)[:12]}...): a reorg deeper than --confirmations {confirmations}. Ingest into a "
                         f"new lake, or delete its logs/, blocks/ and logs/.ingest/ (everything is fetched again)")


def ingest(client: RpcClient, source: str, addresses: list[str], start: int, end: int | None, lake: Path, *,
           confirmations: int = 12, chunk_size: int = 1000, network: str | None = None,
           plan: RangePlan | None = None, progress_stream=None) -> IngestReport:
    """Fetch the logs of `source`'s contracts over [start, end] that the checkpoints lack; decode.

    Progress (blocks/s and logs/s) is drawn on `progress_stream` (default stderr) only if it is a terminal.
    """
    t0 = time.monotonic()
    calls0, retries0 = client.calls, client.retried
    chain_id = client.chain_id()
    net = network_name(chain_id, network)
    head = client.block_number()
    safe = head - confirmations
    end = safe if end is None else min(end, safe)
    if start < 0 or end < start:
        raise InputError(f"nothing to ingest: blocks {start}..{end} (head {head}, {confirmations} confirmations "
                         f"kept back against reorgs) on {redact(client.url)}")
    check_no_reorg(client, lake, net, safe, confirmations)
    rows = discover(client, source, addresses, chain_id, end)
    contracts = merge_contracts(lake, net, rows)
    emitting = [r["address"] for r in rows if r["kind"] not in SILENT_KINDS]
    topics = topic0s_of(source)
    logs_dir = Path(lake) / "logs"
    checkpoints = ck.Checkpoints.load(logs_dir)
    key = ck.filter_key(net, emitting, topics)
    gaps = ck.missing(start, end, checkpoints.done(key))
    report = IngestReport(source, net, start, end)
    bar = Progress(total=sum(b - a + 1 for a, b in gaps), label=f"ingest {source}", unit="blocks",
                   stream=progress_stream)
    blocks_seen: set[int] = set()
    for gap_lo, gap_hi in gaps:
        pending: list[dict] = []
        pending_lo = gap_lo
        for lo, hi, logs in iter_log_ranges(client, emitting, topics, gap_lo, gap_hi, plan or RangePlan(chunk_size)):
            pending += logs
            report.logs += len(logs)
            blocks_seen |= {int(lg["blockNumber"], 16) for lg in logs}
            while pending_lo <= hi:   # flush every complete window, and the gap's tail
                w_hi = min((pending_lo // chunk_size + 1) * chunk_size - 1, gap_hi)
                if w_hi > hi:
                    break
                now = [lg for lg in pending if int(lg["blockNumber"], 16) <= w_hi]
                pending = [lg for lg in pending if int(lg["blockNumber"], 16) > w_hi]
                write_range(logs_dir, net, pending_lo, w_hi, logs_to_table(now, chain_id))
                checkpoints.record(key, pending_lo, w_hi, source=source, network=net, addresses=sorted(emitting))
                report.fetched.append((pending_lo, w_hi))
                pending_lo = w_hi + 1
            rate = report.logs / max(time.monotonic() - t0, 1e-9)
            bar.label = f"ingest {source}: {report.logs:,} logs, {rate:,.0f} logs/s"
            bar.update(hi - lo + 1)
    bar.close()
    # Blocks of windows saved by an earlier, interrupted run need their times too.
    saved = read_logs(lake / "logs", start=start, end=end, network=net)["block_number"].to_pylist()
    add_block_times(client, lake, net, blocks_seen | set(saved) | {end})
    report.decoded = decode_source(lake, net, source, contracts)
    if source == "morpho-blue":         # the new markets' tokens: symbol and decimals for the snapshot
        from backtest.ingest.morpho_blue import token_rows
        known = set(contracts.filter(pc.equal(contracts["kind"], "token"))["address"].to_pylist())
        merge_contracts(lake, net, token_rows(client, lake, net, known, end))
    report.requests, report.retries = client.calls - calls0, client.retried - retries0
    report.seconds = time.monotonic() - t0
    report.fetched = ck.merge(report.fetched)
    return report


def decode_source(lake: Path, network: str, source: str, contracts: pa.Table,
                  logs_dir: Path | None = None) -> dict[str, int]:
    """Bring every decoded table of `source` up to date with the logs (the lake's, or a cryo dump), by
    contract kind and address: only log files not decoded yet are decoded (backtest.ingest.incremental)."""
    mine = contracts.filter(pc.equal(contracts["source"], source)).to_pylist()
    by_kind: dict[str, list[bytes]] = {}
    for r in mine:
        if r["kind"] in ("token", "provider", "data_provider"):    # no events of ours
            continue
        by_kind.setdefault(r["kind"], []).append(bytes.fromhex(r["address"][2:]))
    return decode_incremental(lake, network, source, by_kind, Path(logs_dir or Path(lake) / "logs"))


def parse_addresses(items: list[str], source: str) -> list[tuple[str, str]]:
    """'0x..' or 'kind=0x..' (kind as in events.py: pool, atoken, vtoken, feed, pair, ctoken, ...)."""
    from backtest.ingest.addresses import DEFAULT_KIND
    out = []
    for item in items:
        kind, _, address = item.rpartition("=")
        address = address.strip()
        if not (address.startswith("0x") and len(address) == 42 and all(c in "0123456789abcdefABCDEF" for c in address[2:])):
            raise InputError(f"not a contract address: {item!r}")
        out.append((kind.strip() or DEFAULT_KIND[source], address))
    return out


def merge_cryo_blocks(dump: Path, lake: Path, network: str) -> int:
    """Block times from cryo's `blocks` dataset in the dump (`cryo blocks`: {network}__blocks__{a}_to_{b}.parquet,
    columns block_number, timestamp, block_hash), merged into blocks/: what `backtest snapshot` needs
    without an RPC. Returns the number of blocks added."""
    import pyarrow.parquet as pq
    files = sorted(p for p in Path(dump).glob(f"{network}__blocks__*.parquet") if not p.name.startswith("."))
    if not files:
        return 0
    old = read_small(blocks_path(lake, network), BLOCKS)
    have = set(old["block_number"].to_pylist())
    rows = []
    for f in files:
        t = pq.read_table(f)
        for col in ("block_number", "timestamp"):
            if col not in t.column_names:
                raise InputError("missing a column of cryo's blocks schema", file=f, column=col)
        hashes = t["block_hash"].to_pylist() if "block_hash" in t.column_names else [None] * t.num_rows
        for n, ts, h in zip(t["block_number"].to_pylist(), t["timestamp"].to_pylist(), hashes):
            if n is not None and ts is not None and n not in have:
                have.add(n)
                rows.append({"block_number": int(n), "timestamp": int(ts),
                             "block_hash": "0x" + h.hex() if isinstance(h, bytes) else h})
    if rows:
        table = pa.concat_tables([old, pa.Table.from_pylist(rows, schema=BLOCKS)])
        write_parquet(table.sort_by("block_number"), blocks_path(lake, network))
    return len(rows)


def _overlaps(files) -> list[tuple[int, int]]:
    """Block ranges of a dump covered by more than one file."""
    spans = sorted((lo, hi) for _, lo, hi in files)
    return [(max(a[0], b[0]), min(a[1], b[1])) for a, b in zip(spans, spans[1:]) if b[0] <= a[1]]


def ingest_cryo(dump: Path, source: str, addresses: list[tuple[str, str]], lake: Path,
                client: RpcClient | None = None) -> IngestReport:
    """Decode a cryo `logs` dump where it lies (nothing copied). With a client, the top contracts are
    expanded on chain (aTokens, aggregators) and block times fetched; without one, give every emitting
    contract as kind=address."""
    from backtest.ingest.logs import log_files
    from backtest.ingest.sources import _row
    t0 = time.monotonic()
    files = log_files(dump)
    if not files:
        raise InputError("no cryo logs files ({network}__logs__{start}_to_{end}.parquet) in this folder", file=dump)
    networks = {p.name.split("__")[0] for p, _, _ in files}
    if len(networks) > 1:
        raise InputError(f"the dump mixes networks {sorted(networks)}: give one network's folder", file=dump)
    net = networks.pop()
    start, end = min(lo for _, lo, _ in files), max(hi for _, _, hi in files)
    overlapping = _overlaps(files)
    if overlapping:     # the same blocks in two files: read together, so that two different logs at one
        read_logs(dump, start=min(lo for lo, _ in overlapping), end=max(hi for _, hi in overlapping),
                  network=net)                             # position are named (logs.dedupe warns)
    if client is not None:
        rows = discover(client, source, [a for _, a in addresses], client.chain_id(), end)
    else:
        rows = [_row(source, kind, a) for kind, a in addresses]
    contracts = merge_contracts(lake, net, rows)
    report = IngestReport(source, net, start, end)
    merge_cryo_blocks(dump, lake, net)
    if client is not None:
        emitting = [bytes.fromhex(r["address"][2:]) for r in rows]
        blocks = read_logs(dump, addresses=emitting, network=net)["block_number"].to_pylist()
        add_block_times(client, lake, net, set(blocks))
    report.decoded = decode_source(lake, net, source, contracts, logs_dir=dump)
    report.logs = sum(report.decoded.values())
    report.seconds = time.monotonic() - t0
    return report
