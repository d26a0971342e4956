"""Encode event logs with eth_abi (the reference encoder), as a JSON-RPC node would return them."""

from __future__ import annotations

import numpy as np
from eth_abi import encode

from backtest.ingest.events import Event


def random_value(rng: np.random.Generator, typ: str, edge: int):
    """A random value of an ABI type; edge 0/1/2 forces the smallest, largest, or a random one."""
    if typ == "address":
        return "0x" + bytes(rng.integers(0, 256, 20, dtype=np.uint8)).hex()
    if typ == "bytes32":
        return bytes(rng.integers(0, 256, 32, dtype=np.uint8))
    if typ == "bool":
        return bool(rng.integers(0, 2))
    if typ == "string":       # empty, 40 bytes of multi-byte UTF-8 (crosses a word), or random ASCII
        return "" if edge == 0 else "é€" * 8 if edge == 1 else \
            "".join(chr(int(c)) for c in rng.integers(32, 127, int(rng.integers(1, 70))))
    bits = int(typ.lstrip("uint") or 256)
    lo, hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if typ.startswith("int") else (0, (1 << bits) - 1)
    if edge == 0:
        return lo
    if edge == 1:
        return hi
    raw = int.from_bytes(bytes(rng.integers(0, 256, 32, dtype=np.uint8)), "big") % (1 << int(rng.integers(1, bits + 1)))
    return lo + raw % (hi - lo + 1) if typ.startswith("int") else raw


def encode_log(event: Event, values: dict, *, address: str, block: int, log_index: int, tx: int = 0) -> dict:
    topics = ["0x" + event.topic0.hex()]
    topics += ["0x" + encode([p.type], [values[p.name]]).hex() for p in event.params if p.indexed]
    data_params = [p for p in event.params if not p.indexed]
    data = encode([p.type for p in data_params], [values[p.name] for p in data_params])
    return {"address": address, "topics": topics, "data": "0x" + data.hex(), "blockNumber": hex(block),
            "transactionIndex": hex(tx), "logIndex": hex(log_index),
            "transactionHash": "0x" + (block * 1000 + log_index).to_bytes(32, "big").hex(),
            "blockHash": "0x" + block.to_bytes(32, "big").hex(), "removed": False}


def abi_of(event: Event) -> dict:
    inputs = [{"name": p.name, "type": p.type, "indexed": p.indexed} for p in event.params]
    if event.struct:      # the non-indexed params as one tuple, as the contract's ABI has them
        inputs = [i for i in inputs if i["indexed"]] + [{"name": event.struct, "type": "tuple", "indexed": False,
                                                         "components": [i for i in inputs if not i["indexed"]]}]
    return {"type": "event", "name": event.name, "anonymous": False, "inputs": inputs}


def encode_note(note, values: dict, *, address: str, block: int, log_index: int, tx: int = 0) -> dict:
    """A DSNote log as the Vat emits it: topic0 = selector + 28 zero bytes, topics 1-3 = calldata words
    1-3, data = ABI bytes of the first 224 bytes of calldata (makerdao/dss src/vat.sol `note`)."""
    calldata = note.topic0[:4] + encode([p.type for p in note.params], [values[p.name] for p in note.params])
    payload = calldata[:224].ljust(224, b"\0")
    words = [calldata[4 + 32 * i:36 + 32 * i].ljust(32, b"\0") for i in range(3)]
    data = (32).to_bytes(32, "big") + (224).to_bytes(32, "big") + payload
    return {"address": address, "topics": ["0x" + note.topic0.hex()] + ["0x" + w.hex() for w in words],
            "data": "0x" + data.hex(), "blockNumber": hex(block), "transactionIndex": hex(tx),
            "logIndex": hex(log_index), "transactionHash": "0x" + (block * 1000 + log_index).to_bytes(32, "big").hex(),
            "blockHash": "0x" + block.to_bytes(32, "big").hex(), "removed": False}
