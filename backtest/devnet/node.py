"""A local anvil node as a child process: free port on 127.0.0.1, wait until it answers, stop by PID.

The npm package `@foundry-rs/anvil` ships a node wrapper (`.bin/anvil`) that spawns the real
binary from the platform package. We start that binary directly, in its own session, so
there is exactly one process to stop and nothing is left behind when a test fails.
If only the wrapper exists we start it, and stopping kills its process group (wrapper and child).
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import signal
import socket
import sys
import subprocess
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
INSTALL_HINT = "run `npm ci --no-audit --no-fund` at the repository root"

_ARCH = {"x86_64": "amd64", "amd64": "amd64", "aarch64": "arm64", "arm64": "arm64"}


class NodeModulesMissing(RuntimeError):
    """The npm dependencies are not installed; the message says how to install them."""


def node_modules(repo: Path = REPO) -> Path:
    path = repo / "node_modules"
    if not (path / "@foundry-rs" / "anvil").is_dir():
        raise NodeModulesMissing(f"{path} has no @foundry-rs/anvil: {INSTALL_HINT}")
    return path


def anvil_command(repo: Path = REPO) -> list[str]:
    """The real anvil binary if the platform package is there, else the node wrapper."""
    nm = node_modules(repo)
    system = platform.system().lower()
    arch = _ARCH.get(platform.machine().lower(), platform.machine().lower())
    binary = nm / "@foundry-rs" / f"anvil-{system}-{arch}" / "bin" / "anvil"
    if binary.is_file() and os.access(binary, os.X_OK):
        return [str(binary)]
    wrapper = nm / ".bin" / "anvil"
    if wrapper.exists():
        return [str(wrapper)]
    raise NodeModulesMissing(f"no anvil binary under {nm}: {INSTALL_HINT}")


def _die_with_parent() -> None:
    """In the child before exec (Linux): SIGKILL us if the Python process dies without stopping us."""
    try:
        import ctypes
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)   # PR_SET_PDEATHSIG = 1
    except (OSError, AttributeError):
        pass


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rpc(url: str, method: str, params: list | None = None, timeout: float = 30.0):
    """One JSON-RPC call with the standard library (used before web3 is wired up, and for anvil_* calls)."""
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []}).encode()
    req = urllib.request.Request(url, body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        out = json.loads(resp.read())
    if "error" in out:
        raise RuntimeError(f"{method}: {out['error']}")
    return out["result"]


@dataclass
class Anvil:
    """A running anvil; use as a context manager or call stop() (idempotent)."""

    process: subprocess.Popen
    port: int
    cache_dir: str | None = None   # where anvil persists old states: ours, removed on stop
    url: str = field(init=False)

    def __post_init__(self):
        self.url = f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self, timeout: float = 5.0) -> None:
        """SIGTERM the process group we created (the binary, or the wrapper and its child), then SIGKILL."""
        try:
            if self.process.poll() is not None:
                return
            pgid = self.process.pid  # start_new_session=True: the group id is our child's PID
            for sig in (signal.SIGTERM, signal.SIGKILL):
                try:
                    os.killpg(pgid, sig)
                except ProcessLookupError:
                    return
                try:
                    self.process.wait(timeout=timeout)
                    return
                except subprocess.TimeoutExpired:
                    continue
        finally:
            # Left to itself anvil keeps its persisted states under ~/.foundry/anvil/tmp when it is
            # killed: gigabytes per long test session.
            if self.cache_dir:
                shutil.rmtree(self.cache_dir, ignore_errors=True)

    def __enter__(self) -> "Anvil":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def start_anvil(*, port: int | None = None, chain_id: int = 31337, accounts: int = 10,
                block_gas_limit: int = 1_000_000_000, extra_args: tuple[str, ...] = (),
                timeout: float = 15.0, repo: Path = REPO) -> Anvil:
    """Start anvil on 127.0.0.1 and return once `eth_chainId` answers; stop it again if it never does."""
    last_error: Exception | None = None
    for _attempt in range(3):  # a free port can be taken between probing and binding: retry
        chosen = port or free_port()
        cache_dir = tempfile.mkdtemp(prefix="anvil-states-")
        cmd = anvil_command(repo) + ["--cache-path", cache_dir,
            "--host", "127.0.0.1", "--port", str(chosen), "--chain-id", str(chain_id),
            "--accounts", str(accounts), "--gas-limit", str(block_gas_limit),
            "--disable-code-size-limit", "--silent", *extra_args,
        ]
        log = tempfile.TemporaryFile()  # a file, not a pipe: an unread pipe could block the node
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
                                preexec_fn=_die_with_parent if sys.platform == "linux" else None)
        node = Anvil(proc, chosen, cache_dir)
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                if proc.poll() is not None:
                    log.seek(0)
                    err = log.read().decode(errors="replace")
                    last_error = RuntimeError(f"anvil exited with {proc.returncode}: {err.strip()[:500]}")
                    break
                try:
                    if int(rpc(node.url, "eth_chainId", timeout=1.0), 16) == chain_id:
                        return node
                except OSError as exc:
                    last_error = exc
                time.sleep(0.05)
            else:
                last_error = TimeoutError(f"anvil did not answer on {node.url} within {timeout}s")
        except BaseException:
            node.stop()
            raise
        node.stop()
        if port is not None:
            break
    raise RuntimeError(f"could not start anvil: {last_error}")
