"""A thin layer over web3 for a local node: deploy (with library linking), send, snapshot/revert.

Transactions go out with `eth_sendTransaction` from anvil's unlocked accounts and a fixed gas
limit (no estimation round trip); a reverted transaction raises with the node's revert reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from web3 import Web3
from web3.contract import Contract
from web3.exceptions import ContractLogicError

from backtest.devnet.artifacts import Artifact, library_order, link_bytecode
from backtest.devnet.node import rpc

TX_GAS = 25_000_000


class TxFailed(RuntimeError):
    """A transaction was mined with status 0."""


@dataclass
class Chain:
    url: str
    w3: Web3 = field(init=False)
    accounts: list[str] = field(init=False)

    def __post_init__(self):
        self.w3 = Web3(Web3.HTTPProvider(self.url, request_kwargs={"timeout": 60}))
        self.accounts = list(self.w3.eth.accounts)

    @property
    def deployer(self) -> str:
        return self.accounts[0]

    # -------------------------------------------------------------------- node controls

    def rpc(self, method: str, params: list | None = None):
        return rpc(self.url, method, params)

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
        tx_hash = factory.constructor(*args).transact({"from": sender or self.deployer, "gas": TX_GAS})
        receipt = self._receipt(tx_hash)
        if receipt["status"] != 1 or not receipt["contractAddress"]:
            raise TxFailed(f"deploying {artifact.name} failed")
        return self.at(artifact, receipt["contractAddress"])

    def deploy_libraries(self, libraries: dict[str, Artifact]) -> dict[str, str]:
        """Deploy libraries so that each one's own libraries exist first; returns name -> address."""
        addresses: dict[str, str] = {}
        for name in library_order(libraries):
            addresses[name] = self.deploy(libraries[name], libraries=addresses).address
        return addresses

    def send(self, call, sender: str | None = None, value: int = 0) -> dict:
        """Send a contract function call as a transaction; raise TxFailed with the revert reason."""
        tx = {"from": sender or self.deployer, "gas": TX_GAS}
        if value:
            tx["value"] = value
        try:
            tx_hash = call.transact(tx)
        except ContractLogicError as exc:   # anvil may refuse a tx that it can see reverting
            raise TxFailed(f"{call.fn_name}: {exc}") from exc
        receipt = self._receipt(tx_hash)
        if receipt["status"] != 1:
            reason = ""
            try:
                call.call({"from": tx["from"]}, block_identifier=receipt["blockNumber"] - 1)
            except ContractLogicError as exc:
                reason = str(exc)
            raise TxFailed(f"{call.fn_name} reverted: {reason}")
        return receipt

    def _receipt(self, tx_hash) -> dict:
        return self.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=60, poll_latency=0.005)
