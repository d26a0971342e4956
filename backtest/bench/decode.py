"""The vectorised log decoder (backtest.ingest.decode) against eth_abi, one log at a time.

SYNTHETIC logs in cryo's `logs` schema, a mix of lending and DEX events (Aave v3 Supply, Borrow,
Repay, LiquidationCall; Uniswap v2 Swap, Sync; Uniswap v3 Swap), each word a valid ABI encoding
(addresses left-padded, small ints in range, int256 in two's complement), decoded by one
`decode_many` call (the logs split by topic0 once, as an ingest decodes a log file). The baseline decodes
every log with eth_abi.decode on its data and each indexed topic, as a per-log loop does; it
runs on a sample and its rate is what is compared. Both must give the same values.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from backtest.bench.measure import measured

EVENTS = (("aave-v3", "pool", "Supply"), ("aave-v3", "pool", "Borrow"), ("aave-v3", "pool", "Repay"),
          ("aave-v3", "pool", "LiquidationCall"), ("uniswap-v2", "pair", "Swap"), ("uniswap-v2", "pair", "Sync"),
          ("uniswap-v3", "pool", "Swap"))


def events():
    from backtest.ingest.events import EVENTS as ALL
    pick = {(e.source, e.contract, e.name): e for e in ALL}
    return [pick[k] for k in EVENTS]


def _words(rng, typ: str, n: int) -> np.ndarray:
    """n valid 32-byte ABI words of a static type."""
    w = np.zeros((n, 32), dtype=np.uint8)
    if typ == "address":
        w[:, 12:] = rng.integers(0, 256, (n, 20), dtype=np.uint8)
    elif typ == "bool":
        w[:, 31] = rng.integers(0, 2, n)
    elif typ.startswith("uint") or typ.startswith("int"):
        bits = int(typ.lstrip("uint") or 256)
        nbytes = min(bits // 8, 12)                                   # values up to 2^96: realistic amounts
        w[:, 32 - nbytes:] = rng.integers(0, 256, (n, nbytes), dtype=np.uint8)
        if typ.startswith("int"):
            w[:, 32 - nbytes] &= 0x7F                                  # in range as a positive number
            neg = rng.random(n) < 0.5
            w[neg] = 255 - w[neg]                                      # -x - 1, two's complement, sign-extended
    else:
        w[:] = rng.integers(0, 256, (n, 32), dtype=np.uint8)
    return w


def _binary(rows: np.ndarray) -> pa.Array:
    n, k = rows.shape
    offsets = np.arange(n + 1, dtype=np.int32) * k
    return pa.Array.from_buffers(pa.binary(), n, [None, pa.py_buffer(offsets), pa.py_buffer(rows.tobytes())])


def synthetic_logs(n: int, seed: int = 0) -> pa.Table:
    """n logs, the events of EVENTS in equal shares, in block order."""
    rng = np.random.default_rng([seed, n])
    parts = []
    evs = events()
    for k, ev in enumerate(evs):
        m = n // len(evs) + (k < n % len(evs))
        indexed = [p for p in ev.params if p.indexed]
        plain = [p for p in ev.params if not p.indexed]
        cols = {"topic0": pa.array([ev.topic0] * m, pa.binary())}
        for t in range(1, 4):
            cols[f"topic{t}"] = _binary(_words(rng, indexed[t - 1].type, m)) if t <= len(indexed) \
                else pa.nulls(m, pa.binary())
        data = np.concatenate([_words(rng, p.type, m) for p in plain], axis=1) if plain else np.zeros((m, 0), np.uint8)
        cols["data"] = _binary(data)
        cols["address"] = _binary(np.repeat(rng.integers(0, 256, (1, 20), dtype=np.uint8), m, axis=0))
        parts.append(pa.table(cols))
    t = pa.concat_tables(parts)
    order = rng.permutation(len(t))
    t = t.take(pa.array(order))
    n = len(t)
    meta = {"block_number": pa.array(18_000_000 + np.arange(n) // 200, pa.uint32()),
            "transaction_index": pa.array((np.arange(n) // 2 % 100), pa.uint32()),
            "log_index": pa.array(np.arange(n) % 200, pa.uint32()),
            "transaction_hash": _binary(rng.integers(0, 256, (n, 32), dtype=np.uint8))}
    for name, col in meta.items():
        t = t.append_column(name, col)
    return t


def eth_abi_decode(logs: pa.Table, evs) -> list[dict]:
    """The baseline: per log, find the event by topic0, then eth_abi.decode data and topics."""
    from eth_abi import decode
    by_topic = {e.topic0: e for e in evs}
    out = []
    cols = {c: logs[c].to_pylist() for c in ("topic0", "topic1", "topic2", "topic3", "data")}
    for i in range(len(logs)):
        ev = by_topic[cols["topic0"][i]]
        indexed = [p for p in ev.params if p.indexed]
        plain = [p for p in ev.params if not p.indexed]
        row = dict(zip((p.name for p in plain), decode([p.type for p in plain], cols["data"][i])))
        for t, p in enumerate(indexed, start=1):
            row[p.name] = decode([p.type], cols[f"topic{t}"][i])[0]
        out.append(row)
    return out


def run_case(n_logs: int, baseline_logs: int, seed: int = 0) -> dict:
    try:
        from backtest.ingest.decoders import decode_many
    except ImportError:
        return dict(logs=n_logs, available=False)
    evs = events()
    logs = synthetic_logs(n_logs, seed)
    wanted = [(e, None) for e in evs]
    decode_many(logs.slice(0, 1000), wanted)                          # first-call costs out of the way
    with measured() as engine:
        tables = decode_many(logs, wanted)
    sample = logs.slice(0, baseline_logs)
    with measured() as base:
        rows = eth_abi_decode(sample, evs)
    # The same values, both ways: every parameter of the first log of each event.
    topics = sample["topic0"].to_pylist()
    check = []
    for ev, table in zip(evs, tables):
        first = rows[topics.index(ev.topic0)]
        for prm in ev.params:
            mine = table[prm.name][0].as_py()
            theirs = first[prm.name]
            check.append(str(mine).lower() == str(theirs).lower() if prm.type == "address" else
                         (int(mine) if isinstance(mine, str) else mine) == theirs)
    decoded = sum(t.num_rows for t in tables)
    del tables
    split = _one_pass_vs_scans(logs, wanted)
    rate, base_rate = n_logs / engine.seconds, baseline_logs / base.seconds
    return dict(logs=n_logs, available=True, decoded=decoded, seconds=engine.seconds, peak_rss_mb=engine.peak_rss_mb,
                logs_per_s=rate, reference_logs=baseline_logs, reference_seconds=base.seconds * n_logs / baseline_logs,
                reference_peak_rss_mb=base.peak_rss_mb, reference_extrapolated=baseline_logs < n_logs,
                identical=bool(decoded == n_logs and all(check)), speedup=rate / base_rate, **split)


def _one_pass_vs_scans(logs: pa.Table, wanted: list) -> dict:
    """decode_many against one scan of every log per definition (each decoder on its own), for the
    seven events, then for all 80 definitions (events and note calls; most match no log here): an
    ingest asks for every definition of its source, 2 to 19 of them."""
    from backtest.ingest.decoders import decode_many, decoder_of
    from backtest.ingest.events import EVENTS as ALL, NOTES
    every = [(d, None) for d in (*ALL, *NOTES)]
    out = {"definitions": len(every)}
    for name, defs in (("", wanted), ("every_", every)):
        scans, one = [], []
        for _ in range(2):              # alternated, best of two: the order alone moved either by ~20 %
            with measured() as took:
                old = [decoder_of(d)(logs, d, a) for d, a in defs]
            scans.append(took.seconds)
            del old
            with measured() as took:
                new = decode_many(logs, defs)
            one.append(took.seconds)
            del new
        old, new = [decoder_of(d)(logs, d, a) for d, a in defs], decode_many(logs, defs)
        out[name + "per_event_seconds"], out[name + "one_pass_seconds"] = min(scans), min(one)
        out[name + "one_pass_same"] = all(a.equals(b) for a, b in zip(old, new))
    return out
