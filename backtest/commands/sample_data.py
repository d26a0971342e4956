"""`backtest sample-data`: (re)make the synthetic sample lake with the seeded generator."""

from __future__ import annotations

from pathlib import Path

from backtest.commands.common import REPO


def register(sub) -> None:
    p = sub.add_parser("sample-data", help="write the SYNTHETIC sample lake (seeded)",
                       epilog="example: backtest sample-data --out /tmp/lake --accounts 5000 --seed 1")
    p.add_argument("--out", type=Path, default=REPO / "data" / "lake",
                   help="lake folder to (re)write (default the repository's data/lake, which `replay` reads)")
    p.add_argument("--seed", type=int, default=7, help="generator seed (default 7: the shipped sample)")
    p.add_argument("--accounts", type=int, default=50_000,
                   help="Aave and Compound v2 accounts; Comet, Maker and e-mode add a few %% (default 50000)")
    p.add_argument("--morpho", action="store_true",
                   help="add a few Morpho Blue markets (3 %% more borrowers; not in the shipped sample)")
    p.set_defaults(func=main)


def main(args) -> int:
    from backtest.sample.lake import ALL_PROTOCOLS, write_sample_lake
    protocols = ALL_PROTOCOLS + ("morpho-blue",) if args.morpho else ALL_PROTOCOLS
    counts = write_sample_lake(args.out, seed=args.seed, n_accounts=args.accounts, protocols=protocols)
    print(f"wrote SYNTHETIC sample lake to {args.out}: " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))
    return 0
