"""`python -m backtest.devnet`: start anvil, deploy the market, print its addresses, run until Ctrl-C.

    python -m backtest.devnet --port 8545            # then point web3/cast/a wallet at it
    python -m backtest.devnet --json addresses.json  # also write the addresses (atomically)

After deployment the node goes back to automine, so a user's transactions are mined as sent.
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from pathlib import Path

from backtest.devnet.builder import build_devnet, seed_liquidity
from backtest.devnet.chain import Chain
from backtest.devnet.node import NodeModulesMissing, start_anvil
from backtest.lake.io import atomic_path


def _serve(node, args) -> None:
    chain = Chain(node.url)
    net = build_devnet(chain)
    if not args.no_liquidity:
        seed_liquidity(net)
    chain.rpc("evm_setAutomine", [True])
    addresses = net.addresses()
    print(f"rpc        {node.url}  (chain id 31337, anvil pid {node.pid})")
    print(f"admin      {chain.deployer}  (anvil account 0; accounts 1-9 are funded too)")
    width = max(map(len, addresses))
    for name, address in addresses.items():
        print(f"{name:<{width}}  {address}")
    if args.json:
        with atomic_path(args.json) as tmp:
            tmp.write_text(json.dumps({"rpc": node.url, **addresses}, indent=1) + "\n")
    sys.stdout.flush()
    if args.exit:
        return
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print("running; Ctrl-C to stop", flush=True)
    while node.process.poll() is None:
        time.sleep(0.5)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m backtest.devnet", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=None, help="port on 127.0.0.1 (default: a free one)")
    parser.add_argument("--json", type=Path, default=None, help="also write the addresses to this file")
    parser.add_argument("--no-liquidity", action="store_true", help="deploy only; no reserves or pairs funded")
    parser.add_argument("--exit", action="store_true", help="stop after printing (a smoke test)")
    args = parser.parse_args(argv)
    try:
        node = start_anvil(port=args.port)
    except NodeModulesMissing as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    with node:
        try:
            _serve(node, args)
        except KeyboardInterrupt:       # Ctrl-C at any point: leaving `with node` stops anvil
            pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
