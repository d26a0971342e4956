"""A thin layer over web3 for a local node: deploy (with library linking), send, batch calls, snapshot/revert.

web3 builds the calldata and decodes results; the wire is our own keep-alive JSON-RPC client,
because web3's request stack costs ~5 round trips per transaction. A transaction is one
`eth_sendTransactionSync` (anvil signs for its unlocked accounts and answers with the receipt)
with a fixed gas limit; a reverted one raises with the node's revert reason.
"""

from __future__ import annotations

import http.client
import json
from dataclasses import dataclass, field
from urllib.parse import urlparse

from web3 import Web3
from web3.contract import Contract

from backtest.devnet.artifacts import Artifact, library_order, link_bytecode
TX_GAS = 20_000_000
BLOCK_TXS = 40          # with the node's 1e9 block gas limit (node.start_anvil), 40 x TX_GAS fit a block


class TxFailed(RuntimeError):
    """A transaction was mined with status 0."""


class RpcError(RuntimeError):
    pass


class JsonRpc:
    """Keep-alive HTTP JSON-RPC with batches; one connection, reopened if the node drops it."""

    def __init__(self, url: str, timeout: float = 120.0):
        u = urlparse(url)
        self.host, self.port, self.timeout = u.hostname, u.port, timeout
        self.conn: http.client.HTTPConnection | None = None
        self.next_id = 0

    def _post(self, payload):
        body = json.dumps(payload).encode()
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            try:
                self.conn.request("POST", "/", body, {"Content-Type": "application/json"})
                return json.loads(self.conn.getresponse().read())
            except (ConnectionError, http.client.HTTPException):
                self.conn.close()
                self.conn = None
                if attempt:
                    raise

    def __call__(self, method: str, params: list | None = None):
        self.next_id += 1
        out = self._post({"jsonrpc": "2.0", "id": self.next_id, "method": method, "params": params or []})
        if "error" in out:
            raise RpcError(f"{method}: {out['error'].get('message')} {out['error'].get('data', '')}".strip())
        return out["result"]

    def batch(self, calls: list[tuple[str, list]]) -> list:
        if not calls:
            return []
        first = self.next_id + 1
        self.next_id += len(calls)
        out = self._post([{"jsonrpc": "2.0", "id": first + i, "method": m, "params": p}
                          for i, (m, p) in enumerate(calls)])
        by_id = {r["id"]: r for r in out}
        results = []
        for i, (m, _p) in enumerate(calls):
            r = by_id[first + i]
            if "error" in r:
                raise RpcError(f"{m}: {r['error'].get('message')} {r['error'].get('data', '')}".strip())
            results.append(r["result"])
        return results


@dataclass
class Chain:
    url: str
    w3: Web3 = field(init=False)
    accounts: list[str] = field(init=False)
    rpc: JsonRpc = field(init=False, repr=False)

    def __post_init__(self):
        self.w3 = Web3(Web3.HTTPProvider(self.url, request_kwargs={"timeout": 60}))
        self.rpc = JsonRpc(self.url)
        self._sent = 0
        self.rpc("evm_setAutomine", [False])
        self.accounts = [Web3.to_checksum_address(a) for a in self.rpc("eth_accounts")]

    @property
    def deployer(self) -> str:
        return self.accounts[0]

    # -------------------------------------------------------------------- node controls

    def snapshot(self) -> str:
        return self.rpc("evm_snapshot")

    def revert(self, snapshot_id: str) -> None:
        if not self.rpc("evm_revert", [snapshot_id]):
            raise RuntimeError(f"evm_revert({snapshot_id}) failed")

    def mine(self, seconds: int = 0) -> None:
        if seconds:
            self.rpc("evm_increaseTime", [seconds])
        self.rpc("evm_mine")

    # -------------------------------------------------------------------- contracts

    def at(self, artifact: Artifact, address: str) -> Contract:
        return self.w3.eth.contract(address=Web3.to_checksum_address(address), abi=artifact.abi)

    def deploy(self, artifact: Artifact, *args, libraries: dict[str, str] | None = None,
               sender: str | None = None) -> Contract:
        code = link_bytecode(artifact.bytecode, artifact.link_references, libraries or {}) \
            if artifact.link_references else artifact.bytecode
        factory = self.w3.eth.contract(abi=artifact.abi, bytecode="0x" + code)
        data = factory.constructor(*args).data_in_transaction
        receipt = self.transact({"from": sender or self.deployer, "data": data})
        if int(receipt["status"], 16) != 1 or not receipt.get("contractAddress"):
            raise TxFailed(f"deploying {artifact.name} failed")
        return self.at(artifact, receipt["contractAddress"])

    def deploy_libraries(self, libraries: dict[str, Artifact]) -> dict[str, str]:
        """Deploy libraries so that each one's own libraries exist first; returns name -> address."""
        addresses: dict[str, str] = {}
        for name in library_order(libraries):
            addresses[name] = self.deploy(libraries[name], libraries=addresses).address
        return addresses

    def transact(self, tx: dict) -> dict:
        """Send a raw transaction dict (hex strings), mine it, and return the raw receipt."""
        return self.transact_many([tx])[0]

    def transact_many(self, txs: list[dict]) -> list[dict]:
        """Send transactions and mine them together in one block (in order for one sender).

        Mining is manual (automine off, see __post_init__): with automine on, a transaction sent
        right after evm_revert is sometimes dropped while anvil mines an empty block.
        """
        if len(txs) > BLOCK_TXS:
            return [r for i in range(0, len(txs), BLOCK_TXS) for r in self.transact_many(txs[i:i + BLOCK_TXS])]
        sent = []
        for tx in txs:
            # After evm_revert an identical transaction would get an identical hash; a gas limit
            # that differs per transaction keeps every hash new (nothing here reads gasleft()).
            self._sent += 1
            sent.append({"gas": hex(TX_GAS - self._sent % 1_000_000), **tx})
        hashes = self.rpc.batch([("eth_sendTransaction", [tx]) for tx in sent])
        self.rpc("evm_mine")
        receipts = self.rpc.batch([("eth_getTransactionReceipt", [h]) for h in hashes])
        for h, r in zip(hashes, receipts):
            if r is None:
                raise TxFailed(f"transaction {h} was not mined")
        return receipts

    def send(self, call, sender: str | None = None, value: int = 0) -> dict:
        """Send a contract function call as a transaction; raise TxFailed with the revert reason."""
        return self.send_many([(call, sender)], value=value)[0]

    def send_many(self, calls: list[tuple], value: int = 0) -> list[dict]:
        """[(contract call, sender or None), ...] mined in one block; any revert raises TxFailed."""
        txs = []
        for call, sender in calls:
            tx = {"from": sender or self.deployer, "to": call.address, "data": call._encode_transaction_data()}
            if value:
                tx["value"] = hex(value)
            txs.append(tx)
        try:
            receipts = self.transact_many(txs)
        except RpcError as exc:   # a node may refuse a transaction outright
            raise TxFailed(f"{[c.fn_name for c, _ in calls]}: {exc}") from exc
        for (call, _s), tx, receipt in zip(calls, txs, receipts):
            if int(receipt["status"], 16) != 1:
                raise TxFailed(f"{call.fn_name} reverted: {self._revert_reason(tx, receipt)}")
        return receipts

    def _revert_reason(self, tx: dict, receipt: dict) -> str:
        """Replay on the parent block (exact for the first transaction of a block)."""
        try:
            self.rpc("eth_call", [{k: v for k, v in tx.items() if k != "gas"},
                                  hex(int(receipt["blockNumber"], 16) - 1)])
        except RpcError as exc:
            return str(exc)
        return "(no reason)"

    def revert_reason(self, call, sender: str | None = None, block: str = "latest") -> str | None:
        """Simulate a call as `sender`: None if it would succeed, else the node's revert message."""
        tx = {"from": sender or self.deployer, "to": call.address, "data": call._encode_transaction_data()}
        try:
            self.rpc("eth_call", [tx, block])
        except RpcError as exc:
            return str(exc)
        return None

    def call_words(self, calls: list[tuple[str, str]], block: str = "latest") -> list[list[int]]:
        """eth_call many (address, calldata hex) at once; each result as 32-byte words (uint256).

        The fast path for hot loops: web3's calldata encoding costs about a millisecond a call.
        """
        raw = self.rpc.batch([("eth_call", [{"to": to, "data": data}, block]) for to, data in calls])
        return [[int(r[i:i + 64], 16) for i in range(2, len(r), 64)] for r in raw]

    def call_many(self, calls: list, block: str | int = "latest") -> list:
        """eth_call a list of contract function calls in one batch; returns the decoded results."""
        tag = hex(block) if isinstance(block, int) else block
        raw = self.rpc.batch([("eth_call", [{"to": c.address, "data": c._encode_transaction_data()}, tag])
                              for c in calls])
        out = []
        for c, r in zip(calls, raw):
            types = [o["type"] if o["type"] != "tuple" else _tuple_type(o) for o in c.abi["outputs"]]
            values = [Web3.to_checksum_address(v) if t == "address" else v
                      for t, v in zip(types, self.w3.codec.decode(types, bytes.fromhex(r[2:])))]
            out.append(values[0] if len(values) == 1 else tuple(values))
        return out


def _tuple_type(output: dict) -> str:
    inner = ",".join(o["type"] if o["type"] != "tuple" else _tuple_type(o) for o in output["components"])
    return f"({inner})"
