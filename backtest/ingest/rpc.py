"""JSON-RPC for ingest: retries with backoff, adaptive eth_getLogs ranges, URLs never shown with their key.

The HTTP layer is one POST per call to the endpoint URL and nothing else, so a proxy that injects
faults (429, 5xx, timeouts, truncated bodies, range errors) only needs to sit at that URL.
"""

from __future__ import annotations

import json
import random
import re
import socket
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Callable, Iterator
from urllib.parse import urlsplit

RETRY_STATUS = {408, 425, 429, 500, 502, 503, 504, 520, 521, 522, 523, 524}
# Messages providers use when a getLogs answer would be too big (geth, Alchemy, Infura, QuickNode,
# Ankr, erigon, anvil). Matched case-insensitively; code -32005 is Infura's "limit exceeded".
TOO_BIG = re.compile(r"more than \d+ results|too many (results|logs|blocks)|response size|limit exceeded|"
                     r"query returned more than|block range|range is too (large|wide)|exceed|"
                     r"log response size|try with this block range|payload too large", re.I)


class RpcError(RuntimeError):
    """The node answered with a JSON-RPC error (after retries if it was a transient one)."""

    def __init__(self, message: str, code: int | None = None):
        super().__init__(message)
        self.code = code


class RangeTooLarge(RpcError):
    """eth_getLogs refused or failed a range because its answer would be too big: split it."""


class Transient(RpcError):
    """A failure worth retrying: HTTP 429/5xx, timeout, dropped connection, unparseable body."""


class Unreachable(RpcError):
    """Transient failures outlasted the retries: the node cannot be asked now."""


class BatchUnsupported(RpcError):
    """The endpoint does not answer JSON-RPC batches: send the calls one by one."""


def redact(url: str) -> str:
    """Scheme and host only: providers put API keys in the path, the query or the user part."""
    u = urlsplit(url)
    host = u.hostname or ""
    if u.port:
        host += f":{u.port}"
    hidden = u.path.strip("/") or u.query or u.username
    return f"{u.scheme}://{host}" + ("/***" if hidden else "")


@dataclass
class RpcClient:
    """POST JSON-RPC to `url`; transient failures are retried with capped exponential backoff and jitter."""

    url: str
    timeout: float = 30.0
    retries: int = 6
    backoff: float = 0.5
    max_backoff: float = 30.0
    sleep: Callable[[float], None] | None = None    # default time.sleep, looked up at call time
    seed: int = 0
    use_batches: bool = True
    calls: int = field(default=0, init=False)
    retried: int = field(default=0, init=False)

    def __post_init__(self):
        self._rng = random.Random(self.seed)
        self._id = 0

    def __repr__(self) -> str:
        return f"RpcClient({redact(self.url)})"

    def call(self, method: str, params: list | None = None, check: Callable | None = None):
        """`check(result)` may raise Transient for an answer that is well-formed but wrong: retried too."""
        def once():
            result = self._once(method, params or [])
            if check is not None:
                check(result)
            return result
        return self._retry(method, once)

    def batch(self, calls: list[tuple[str, list]]) -> list:
        """Several calls in one POST (JSON-RPC batch), retried as a whole; BatchUnsupported if refused."""
        return self._retry(f"batch of {len(calls)} {calls[0][0]}", lambda: self._batch_once(calls)) if calls else []

    def many(self, calls: list[tuple[str, list]]) -> list:
        """Answers to `calls` in order: one batch if the node takes batches, else one call each (and
        batches are not tried again on this client)."""
        if self.use_batches:
            try:
                return self.batch(calls)
            except BatchUnsupported:
                self.use_batches = False
        return [self.call(m, p) for m, p in calls]

    def _retry(self, what: str, fn):
        attempt = 0
        while True:
            try:
                return fn()
            except Transient as exc:
                attempt += 1
                self.retried += 1
                if attempt > self.retries:
                    raise Unreachable(f"{what} failed after {self.retries} retries on {redact(self.url)}: {exc}",
                                      exc.code) from None
                delay = min(self.max_backoff, self.backoff * 2 ** (attempt - 1))
                (self.sleep or time.sleep)(delay * (0.5 + self._rng.random() / 2))

    def _post(self, method: str, payload) -> object:
        """One POST; HTTP and transport failures classified, the JSON body parsed."""
        self.calls += 1
        req = urllib.request.Request(self.url, json.dumps(payload).encode(), {"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                raw = resp.read()
        except urllib.error.HTTPError as exc:
            text = _body(exc)
            if method == "eth_getLogs" and (exc.code == 413 or TOO_BIG.search(text)):
                raise RangeTooLarge(f"HTTP {exc.code}: {text[:200]}", exc.code) from None
            if exc.code in RETRY_STATUS:
                raise Transient(f"HTTP {exc.code}", exc.code) from None
            raise RpcError(f"{method}: HTTP {exc.code} from {redact(self.url)}: {text[:200]}", exc.code) from None
        except (urllib.error.URLError, socket.timeout, TimeoutError, ConnectionError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise Transient(f"{type(reason).__name__}: {_scrub(str(reason), self.url)}") from None
        try:
            return json.loads(raw)
        except ValueError:
            raise Transient(f"unparseable answer ({len(raw)} bytes)") from None

    def _once(self, method: str, params: list):
        self._id += 1
        out = self._post(method, {"jsonrpc": "2.0", "id": self._id, "method": method, "params": params})
        if not isinstance(out, dict):
            raise Transient("answer is not a JSON-RPC object")
        if out.get("id") != self._id:        # a proxy or load balancer mixed up answers
            raise Transient(f"answer to request {out.get('id')!r}, expected {self._id}")
        return _result(method, out)

    def _batch_once(self, calls: list[tuple[str, list]]) -> list:
        first = self._id + 1
        self._id += len(calls)
        out = self._post(calls[0][0], [{"jsonrpc": "2.0", "id": first + i, "method": m, "params": p}
                                       for i, (m, p) in enumerate(calls)])
        if isinstance(out, dict):             # one error object for the whole batch: batches not served
            raise BatchUnsupported(str(out.get("error", out))[:200])
        if not isinstance(out, list):
            raise Transient("batch answer is not a list")
        by_id = {r.get("id"): r for r in out if isinstance(r, dict)}
        missing = [first + i for i in range(len(calls)) if first + i not in by_id]
        if missing:
            raise Transient(f"batch answer lacks {len(missing)} of {len(calls)} results")
        return [_result(m, by_id[first + i]) for i, (m, _p) in enumerate(calls)]

    # ------------------------------------------------------------------ typed helpers

    def chain_id(self) -> int:
        return int(self.call("eth_chainId"), 16)

    def block_number(self) -> int:
        return int(self.call("eth_blockNumber"), 16)

    def block_timestamps(self, numbers: list[int]) -> dict[int, int]:
        return {n: ts for n, (ts, _h) in self.blocks(numbers).items()}

    def blocks(self, numbers: list[int], per_batch: int = 100) -> dict[int, tuple[int, str]]:
        """{number: (timestamp, hash)}, asked in batches of `per_batch` (one by one if batches are refused)."""
        out: dict[int, tuple[int, str]] = {}
        numbers = list(numbers)
        for i in range(0, len(numbers), per_batch):
            part = numbers[i:i + per_batch]
            answers = self.many([("eth_getBlockByNumber", [hex(n), False]) for n in part])
            for n, block in zip(part, answers):
                if not isinstance(block, dict) or "timestamp" not in block:
                    raise RpcError(f"block {n} not found on {redact(self.url)}")
                out[n] = (int(block["timestamp"], 16), block.get("hash"))
        return out

    def eth_call(self, to: str, data: str, block: int | str = "latest") -> str:
        tag = hex(block) if isinstance(block, int) else block
        return self.call("eth_call", [{"to": to, "data": data}, tag])

    def get_logs(self, addresses: list[str], topic0s: list[str] | None, start: int, end: int) -> list[dict]:
        flt = {"fromBlock": hex(start), "toBlock": hex(end)}
        if addresses:
            flt["address"] = addresses
        if topic0s:
            flt["topics"] = [topic0s]

        def check(logs):
            if not isinstance(logs, list):
                raise Transient("eth_getLogs answer is not a list")
            for lg in logs:
                try:
                    n = int(lg["blockNumber"], 16)
                    int(lg["logIndex"], 16)
                except (TypeError, KeyError, ValueError):
                    raise Transient("eth_getLogs answered a log without block number or index") from None
                if not start <= n <= end:
                    raise Transient(f"eth_getLogs for blocks {start}..{end} answered a log of block {n}")
        return self.call("eth_getLogs", [flt], check)


def _result(method: str, out: dict):
    """The result of one JSON-RPC answer object, or its error classified."""
    if "error" in out and out["error"]:
        err = out["error"] if isinstance(out["error"], dict) else {"message": str(out["error"])}
        msg, code = str(err.get("message", err)), err.get("code")
        if method == "eth_getLogs" and (code == -32005 or TOO_BIG.search(msg)):
            raise RangeTooLarge(msg, code)
        if code in (-32603, -32000) and re.search(r"timeout|timed out|rate|capacity|busy|header not found", msg, re.I):
            raise Transient(msg, code)
        if code == 429:
            raise Transient(msg, code)
        raise RpcError(f"{method}: {msg}", code)
    if "result" not in out:
        raise Transient("answer has no result")
    return out["result"]


def _body(exc: urllib.error.HTTPError) -> str:
    try:
        return exc.read().decode(errors="replace")
    except OSError:
        return ""


def _scrub(text: str, url: str) -> str:
    return text.replace(url, redact(url))


@dataclass
class RangePlan:
    """How many blocks to ask for next: halve on a too-big answer, double while answers are sparse."""

    size: int = 1000
    min_size: int = 1
    max_size: int = 100_000
    target_logs: int = 5_000

    def shrink(self, failed: int) -> None:
        self.size = max(self.min_size, min(self.size, failed) // 2)

    def observe(self, blocks: int, logs: int) -> None:
        if logs < self.target_logs // 4 and blocks >= self.size:
            self.size = min(self.max_size, self.size * 2)
        elif logs > self.target_logs:
            self.size = max(self.min_size, self.size // 2)


def iter_log_ranges(client: RpcClient, addresses: list[str], topic0s: list[str] | None,
                    start: int, end: int, plan: RangePlan | None = None) -> Iterator[tuple[int, int, list[dict]]]:
    """Yield (first, last, logs) covering [start, end] in order, with no gap and no overlap.

    A range the node calls too big is split in half until it passes; a single block that is still
    too big is an error (nothing smaller can be asked for).
    """
    plan = plan or RangePlan()
    lo = start
    while lo <= end:
        hi = min(end, lo + plan.size - 1)
        try:
            logs = client.get_logs(addresses, topic0s, lo, hi)
        except RangeTooLarge as exc:
            if hi == lo:
                raise RpcError(f"eth_getLogs of the single block {lo} is still too big: {exc}") from None
            plan.shrink(hi - lo + 1)
            continue
        plan.observe(hi - lo + 1, len(logs))
        yield lo, hi, logs
        lo = hi + 1
