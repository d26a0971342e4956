"""Contract artifacts: the npm packages' hardhat/waffle JSON, and our own contracts compiled with npm solc.

Linking is a pure function over the bytecode hex: hardhat's `linkReferences` gives, per
library, the byte offsets of the 20-byte placeholders to overwrite with its address.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from backtest.devnet.node import INSTALL_HINT, REPO, NodeModulesMissing, node_modules

CONTRACTS_DIR = REPO / "contracts"
CACHE_DIR = REPO / "build" / "devnet-contracts"   # /build/ is git-ignored
SOLC_SETTINGS = {"optimizer": {"enabled": True, "runs": 200}, "evmVersion": "paris",
                 "outputSelection": {"*": {"*": ["abi", "evm.bytecode.object", "evm.bytecode.linkReferences"]}}}


@dataclass(frozen=True)
class Artifact:
    name: str
    abi: list
    bytecode: str                    # hex without 0x, placeholders not yet replaced
    link_references: dict            # {source: {library: [{start, length}]}}

    def libraries(self) -> list[tuple[str, str]]:
        return [(src, lib) for src, libs in self.link_references.items() for lib in libs]


def load_hardhat(path: Path) -> Artifact:
    data = json.loads(Path(path).read_text())
    code = data["bytecode"]
    return Artifact(data["contractName"], data["abi"], code[2:] if code.startswith("0x") else code,
                    data.get("linkReferences") or {})


def aave_v3(relative: str) -> Artifact:
    """An Aave v3 core artifact, e.g. aave_v3("protocol/pool/Pool.sol/Pool.json")."""
    return load_hardhat(node_modules() / "@aave" / "core-v3" / "artifacts" / "contracts" / relative)


def aave_v2(relative: str) -> Artifact:
    return load_hardhat(node_modules() / "@aave" / "protocol-v2" / "artifacts" / "contracts" / relative)


def uniswap_v2(name: str) -> Artifact:
    """Waffle build output of @uniswap/v2-core (`bytecode` without 0x, no libraries)."""
    data = json.loads((node_modules() / "@uniswap" / "v2-core" / "build" / f"{name}.json").read_text())
    code = data["bytecode"] if isinstance(data["bytecode"], str) else data["evm"]["bytecode"]["object"]
    return Artifact(name, data["abi"], code.removeprefix("0x"), {})


def uniswap_v3(name: str) -> Artifact:
    return load_hardhat(node_modules() / "@uniswap" / "v3-core" / "artifacts" / "contracts" / f"{name}.sol" / f"{name}.json")


def link_bytecode(bytecode: str, link_references: dict, addresses: dict[str, str]) -> str:
    """Write each library's address over its placeholders; `addresses` is keyed by library name."""
    code = bytearray(bytecode.encode())
    for libs in link_references.values():
        for lib, spots in libs.items():
            if lib not in addresses:
                raise KeyError(f"library {lib} has no address to link")
            addr = addresses[lib].lower().removeprefix("0x")
            if len(addr) != 40:
                raise ValueError(f"bad address for {lib}: {addresses[lib]}")
            for spot in spots:
                if spot["length"] != 20:
                    raise ValueError(f"{lib}: placeholder of {spot['length']} bytes")
                start = 2 * spot["start"]
                code[start:start + 40] = addr.encode()
    out = code.decode()
    if "__" in out:
        raise ValueError("unlinked placeholders remain in bytecode")
    return out


def library_order(artifacts: dict[str, Artifact]) -> list[str]:
    """Libraries in an order where each one's own libraries come first (depth-first topological sort)."""
    order: list[str] = []
    state: dict[str, str] = {}

    def visit(name: str) -> None:
        if state.get(name) == "done":
            return
        if state.get(name) == "visiting":
            raise ValueError(f"library cycle through {name}")
        state[name] = "visiting"
        for _src, dep in artifacts[name].libraries():
            visit(dep)
        state[name] = "done"
        order.append(name)

    for name in sorted(artifacts):
        visit(name)
    return order


# ----------------------------------------------------------------------------- our own contracts

def _solc_input(sources: dict[str, str], settings: dict = SOLC_SETTINGS) -> dict:
    return {"language": "Solidity", "sources": {k: {"content": v} for k, v in sorted(sources.items())},
            "settings": settings}


def compile_own(contracts_dir: Path = CONTRACTS_DIR, cache_dir: Path = CACHE_DIR) -> dict[str, Artifact]:
    """Compile every .sol under contracts/ once; the output is cached by a hash of the input."""
    sources = {p.name: p.read_text() for p in sorted(Path(contracts_dir).glob("*.sol"))}
    return compile_sources(sources, "solc", SOLC_SETTINGS, cache_dir)


# Morpho Blue 1.0.0 pins `pragma solidity 0.8.19`, so it is compiled by npm solc 0.8.19 (installed
# under the alias solc-0.8.19), legacy codegen with the optimizer on (the runtime code stays under
# the 24 kB limit). Codegen settings change gas, never the integer results compared in the tests.
MORPHO_SOLC = "solc-0.8.19"
MORPHO_SETTINGS = {"optimizer": {"enabled": True, "runs": 999_999}, "evmVersion": "paris",
                   "outputSelection": {"Morpho.sol": {"Morpho": ["abi", "evm.bytecode.object"]}}}


def morpho_blue(cache_dir: Path = CACHE_DIR) -> Artifact:
    """The Morpho contract compiled from the npm package's Solidity sources (mocks left out).

    The sources are not vendored and the bytecode is not committed: it is built here and
    cached under build/ (git-ignored), keyed by a hash of sources, settings and compiler.
    """
    root = node_modules() / "@morpho-org" / "morpho-blue" / "src"
    if not root.is_dir():
        raise NodeModulesMissing(f"{root} is missing: {INSTALL_HINT}")
    sources = {p.relative_to(root).as_posix(): p.read_text() for p in sorted(root.rglob("*.sol"))
               if "mocks" not in p.relative_to(root).parts}
    return compile_sources(sources, MORPHO_SOLC, MORPHO_SETTINGS, cache_dir)["Morpho"]


def compile_sources(sources: dict[str, str], solc_package: str, settings: dict,
                    cache_dir: Path = CACHE_DIR) -> dict[str, Artifact]:
    """Compile with an npm solc package through contracts/compile.cjs; cached by a hash of the input."""
    std_input = json.dumps(_solc_input(sources, settings), sort_keys=True)
    solc_pkg = node_modules() / solc_package / "package.json"
    if not solc_pkg.exists():
        raise NodeModulesMissing(f"npm {solc_package} is not installed: {INSTALL_HINT}")
    key = hashlib.sha256((std_input + solc_pkg.read_text()).encode()).hexdigest()[:16]
    cached = Path(cache_dir) / f"{key}.json"
    if cached.exists():
        result = json.loads(cached.read_text())
    else:
        node = shutil.which("node")
        if node is None:
            raise NodeModulesMissing("node is not on PATH (needed to run npm solc)")
        proc = subprocess.run([node, str(CONTRACTS_DIR / "compile.cjs"), solc_package], input=std_input,
                              capture_output=True, text=True, cwd=REPO, check=False, timeout=300)
        if proc.returncode != 0:
            raise RuntimeError(f"solc failed: {proc.stderr[-2000:]}")
        result = json.loads(proc.stdout)
        errors = [e for e in result["output"].get("errors", []) if e["severity"] == "error"]
        if errors:
            raise RuntimeError("solc: " + "\n".join(e["formattedMessage"] for e in errors))
        cached.parent.mkdir(parents=True, exist_ok=True)
        tmp = cached.with_suffix(".tmp")
        tmp.write_text(json.dumps(result))
        tmp.replace(cached)
    out = {}
    for src, contracts in result["output"]["contracts"].items():
        for name, c in contracts.items():
            out[name] = Artifact(name, c["abi"], c["evm"]["bytecode"]["object"],
                                 c["evm"]["bytecode"].get("linkReferences") or {})
    return out
