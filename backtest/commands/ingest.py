"""`backtest ingest`: logs of a protocol's contracts from any JSON-RPC node into the lake (cryo layout)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from backtest.errors import InputError
from backtest.ingest.addresses import DEFAULT_KIND

SOURCES = tuple(DEFAULT_KIND)     # = backtest.ingest.sources.SOURCES, without its eth_abi import

EPILOG = """\
examples:
  backtest ingest --rpc $ETH_RPC_URL --source aave-v3 --from-block 16291127 --to-block 16300000
  backtest ingest --source uniswap-v2 --address 0xB4e16d0168e52d35CaCD2c6185b44281Ec28C9Dc \\
      --from-block 10008355 --to-block 10100000 --lake mylake     # RPC URL from $ETH_RPC_URL
  backtest ingest --rpc http://127.0.0.1:8545 --source chainlink --address 0x... --from-block 0 --confirmations 0
  backtest ingest --source aave-v3 --cryo ~/cryo_dump --address 0x8787...4E2 --rpc $ETH_RPC_URL   # decode a cryo dump
  backtest ingest --dune borrows.csv --dune supplies.csv        # Dune lending.borrow / lending.supply exports
  backtest ingest --source maker --address vat=0x35D1b3F3D7966A1DFe207aa4514C12a259A0492B --from-block 8928152
  backtest ingest --source compound-v2 --address comptroller=0x3d9819210A31b4961b30EF54bE2aeD79B9c9Cd3B \\
      --from-block 7710671                                      # every cToken, and the risk parameters
  backtest ingest --source spark --from-block N        # SparkLend (Aave v3 fork): Pool, provider, data provider built in
  backtest ingest --source morpho-blue --from-block N  # Morpho Blue: every market of the one Morpho contract

Raw logs land in <lake>/logs/ as cryo files ({network}__logs__{start:08}_to_{end:08}.parquet); a
rerun fetches only the block ranges its checkpoint lacks. Decoded tables (<lake>/aave_v3_pool_supply/,
..., the Vat's LogNotes as maker_vat_frob/...) are brought up to date from the new log files only;
contracts/ and blocks/ are merged. Mainnet addresses are built in for every
source; elsewhere give --address. The RPC URL is never printed with its path or query (API keys).
"""


def register(sub) -> None:
    p = sub.add_parser("ingest", help="fetch a protocol's event logs from a JSON-RPC node into the lake",
                       description="eth_getLogs over adaptive block ranges, with retries, a reorg margin "
                                   "and checkpoints; then decode into typed tables.",
                       epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rpc", default=os.environ.get("ETH_RPC_URL"),
                   help="JSON-RPC endpoint (default: $ETH_RPC_URL); optional with --cryo, where it adds token "
                        "symbols, decimals, fees and block times")
    p.add_argument("--source", choices=SOURCES, help="protocol whose events to fetch (not needed with --dune)")
    p.add_argument("--dune", type=Path, metavar="CSV", action="append", default=[],
                   help="import a Dune lending.borrow or lending.supply CSV export instead (repeatable)")
    p.add_argument("--address", action="append", default=[],
                   help="contract address, or kind=address, e.g. configurator=0x..., factory=0x... (repeatable; "
                        "comma-separated also works; default: the source's built-in mainnet contracts)")
    p.add_argument("--cryo", type=Path, metavar="DIR",
                   help="decode an existing cryo logs dump in place instead of fetching (--rpc optional; cryo's "
                        "blocks files in DIR give the block times)")
    p.add_argument("--from-block", type=int, help="first block (required unless --cryo)")
    p.add_argument("--to-block", type=int, default=None, help="last block (default: head minus confirmations)")
    p.add_argument("--lake", type=Path, default=Path(os.environ.get("BACKTEST_LAKE", "lake")),
                   help="lake folder written (default ./lake in the current folder, or $BACKTEST_LAKE if set; "
                        "never the sample's data/lake unless named)")
    p.add_argument("--confirmations", type=int, default=12,
                   help="blocks kept back from the head against reorgs (default 12)")
    p.add_argument("--chunk-size", type=int, default=1000, help="blocks per logs file (cryo's default 1000)")
    p.add_argument("--max-range", type=int, default=100_000,
                   help="largest eth_getLogs block range when sparse answers double it (default 100000)")
    p.add_argument("--network-name", default=None,
                   help="network part of the file names (default from the chain id, as cryo names it: ethereum, "
                        "base, ..., network_<id>)")
    p.add_argument("--retries", type=int, default=6,
                   help="retries of a failed or rate-limited RPC call, with exponential backoff (default 6)")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for one RPC answer (default 30)")
    p.set_defaults(func=main)


def main(args) -> int:
    from backtest.ingest.dune import import_dune_csv
    from backtest.ingest.pipeline import ingest, parse_addresses
    from backtest.ingest.rpc import RangePlan, RpcClient, RpcError, redact
    if args.dune:
        for path in args.dune:
            kind, out, rows, dropped = import_dune_csv(path, args.lake)
            print(f"{path}: {rows} {kind} rows -> {out}" + (f" ({dropped} duplicate rows dropped)" if dropped else ""))
        return 0
    if args.source is None:
        raise InputError("--source is required (or --dune CSV to import a Dune export)")
    items = [a.strip() for item in args.address for a in item.split(",") if a.strip()]
    kinds = parse_addresses(items, args.source)
    if args.cryo is not None:
        return from_cryo(args, kinds)
    if not args.rpc:
        raise InputError("no RPC endpoint: pass --rpc URL or set ETH_RPC_URL")
    if args.from_block is None:
        raise InputError("--from-block is required when fetching from a node")
    if args.chunk_size < 1:
        raise InputError("--chunk-size must be >= 1")
    addresses = [f"{k}={a}" for k, a in kinds]
    client = RpcClient(args.rpc, timeout=args.timeout, retries=args.retries)
    plan = RangePlan(size=args.chunk_size, max_size=max(args.max_range, 1))
    print(f"ingest {args.source} from {redact(args.rpc)} into {args.lake}")
    try:
        report = ingest(client, args.source, addresses, args.from_block, args.to_block, args.lake,
                        confirmations=args.confirmations, chunk_size=args.chunk_size, network=args.network_name,
                        plan=plan)
    except RpcError as exc:   # the node failed us: one line, the URL already redacted
        raise InputError(f"{exc} (rerun the same command to resume from the last checkpoint)") from None
    print(report.line())
    for table, n in sorted(report.decoded.items()):
        print(f"  {table}: {n} rows")
    print(f"  next: backtest snapshot --block N --lake {args.lake}   (positions at a block, then replay them)")
    return 0


def from_cryo(args, kinds) -> int:
    from backtest.ingest.pipeline import ingest_cryo
    from backtest.ingest.rpc import RpcClient, RpcError
    if not kinds:
        raise InputError("--address is required with --cryo (the dump holds every contract's logs)")
    client = RpcClient(args.rpc, timeout=args.timeout, retries=args.retries) if args.rpc else None
    try:
        report = ingest_cryo(args.cryo, args.source, kinds, args.lake, client)
    except RpcError as exc:
        raise InputError(str(exc)) from None
    print(f"decoded {args.source} from the cryo dump {args.cryo} ({report.network}, blocks {report.start}.."
          f"{report.end}) into {args.lake}")
    for table, n in sorted(report.decoded.items()):
        print(f"  {table}: {n} rows")
    print(f"  next: backtest snapshot --block N --lake {args.lake}   (positions at a block, then replay them)")
    return 0
