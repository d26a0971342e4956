"""decode_many splits the logs by topic0 once; every table it gives is the one its own decoder gives
when it scans all the logs alone (same rows, order, types and Parquet bytes)."""

from __future__ import annotations

import io

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from backtest.ingest.decode import rows_by_topic0
from backtest.ingest.decoders import decode_many, decoder_of
from backtest.ingest.events import BY_TABLE, NOTES_BY_TABLE
from backtest.ingest.logs import logs_to_table
from tests.ingest_chain.logmaker import encode_log, encode_note, random_value

POOL, PAIR, V3, CTOKEN, CONF, VAT, STRANGER = ("0x" + f"{k:02x}" * 20 for k in range(1, 8))
KINDS = {  # the table, the address its logs come from
    "aave_v3_pool_supply": POOL, "aave_v3_pool_borrow": POOL, "aave_v3_pool_liquidation_call": POOL,
    "uniswap_v2_pair_swap": PAIR, "uniswap_v2_pair_sync": PAIR, "uniswap_v2_pair_mint": PAIR,
    "uniswap_v3_pool_swap": V3, "compound_v2_ctoken_mint": CTOKEN,
    "aave_v3_configurator_e_mode_category_added": CONF, "maker_vat_frob": VAT, "maker_vat_fold": VAT,
}


def definition(table):
    return NOTES_BY_TABLE.get(table) or BY_TABLE[table]


def mixed_logs(seed: int = 11) -> tuple[pa.Table, dict[str, list[int]]]:
    """Every kind's logs from its own address, the same events from a stranger's address, logs of an
    unknown topic0, an anonymous log, a string event in a layout we skip, a Transfer with an extra topic;
    shuffled into one chain order, in two chunks. Also the log indexes each table must hold."""
    rng = np.random.default_rng(seed)
    made, want = [], {t: [] for t in KINDS}
    for table, address in KINDS.items():
        d = definition(table)
        encode = encode_note if table in NOTES_BY_TABLE else encode_log
        for k in range(9):                     # edge values (smallest, largest) first, then random ones
            values = {p.name: random_value(rng, p.type, min(k, 2)) for p in d.params}
            ours = k % 3 != 2                  # every third from a contract that is not the kind's
            made.append((table if ours else None, encode(d, values, address=address if ours else STRANGER,
                                                         block=0, log_index=0)))
    supply = made[0][1]
    made.append((None, dict(supply, topics=["0x" + "ee" * 32] + supply["topics"][1:])))     # unknown topic0
    made.append((None, dict(supply, topics=[], data="0x")))                                # no topics at all
    sync = next(log for t, log in made if t == "uniswap_v2_pair_sync")                    # no indexed topic
    made.append((None, dict(sync, topics=sync["topics"] + ["0x" + "00" * 32])))             # a topic too many
    emode = next(log for t, log in made if t == "aave_v3_configurator_e_mode_category_added")
    data = bytes.fromhex(emode["data"][2:])
    moved = data[:160] + (224).to_bytes(32, "big") + bytes(32) + data[192:]   # offset 224 instead of 192
    made.append((None, dict(emode, data="0x" + moved.hex())))
    order = rng.permutation(len(made))
    logs = []
    for i, j in enumerate(order):
        table, log = made[j]
        block, index = 100 + i // 4, i % 4
        logs.append(dict(log, blockNumber=hex(block), logIndex=hex(index),
                         transactionHash="0x" + (block * 1000 + index).to_bytes(32, "big").hex()))
        if table:
            want[table].append(i)
    t = logs_to_table(logs, 1)
    return pa.concat_tables([t.slice(0, 40), t.slice(40)]), want


def wanted():
    return [(definition(t), [bytes.fromhex(a[2:])]) for t, a in KINDS.items()]


def parquet_bytes(table: pa.Table) -> bytes:
    sink = io.BytesIO()
    pq.write_table(table, sink)
    return sink.getvalue()


def test_one_pass_tables_equal_each_decoders_own_scan_byte_for_byte():
    logs, _ = mixed_logs()
    assert logs["data"].num_chunks == 2
    together = decode_many(logs, wanted())
    for (d, addresses), got in zip(wanted(), together):
        alone = decoder_of(d)(logs, d, addresses)
        assert got.schema == alone.schema, d.table
        assert got.equals(alone), d.table
        assert parquet_bytes(got) == parquet_bytes(alone), d.table


def test_each_table_holds_exactly_its_own_contracts_logs_in_chain_order():
    """Independent of either decoder: 9 logs were made per table, 6 from the kind's address (k = 0, 1,
    3, 4, 6, 7), so 6 rows each, at the positions the shuffle put them (block 100 + i // 4, index i % 4).
    The unknown topic0, the anonymous log, the extra topic and the moved string are in no table."""
    logs, want = mixed_logs()
    for (d, _), got in zip(wanted(), decode_many(logs, wanted())):
        assert got.num_rows == 6, d.table
        assert list(zip(got["evt_block_number"].to_pylist(), got["evt_index"].to_pylist())) == \
            [(100 + i // 4, i % 4) for i in want[d.table]], d.table


def test_no_addresses_means_every_contract_and_an_empty_list_means_none():
    logs, _ = mixed_logs()
    supply = BY_TABLE["aave_v3_pool_supply"]
    every, none = decode_many(logs, [(supply, None), (supply, [])])
    # 9 Supply logs made (6 from the pool, 3 from the stranger), plus the copy under an unknown topic0
    # and the one with a fourth topic, which are not Supply logs: 9 rows
    assert every.num_rows == 9 and none.num_rows == 0
    assert every.equals(decoder_of(supply)(logs, supply, None))


def test_rows_by_topic0_keeps_chain_order_within_each_topic():
    a, b, c = b"\xaa" * 32, b"\xbb" * 32, b"\xcc" * 32
    col = pa.chunked_array([[a, b, None], [a, c, b, a]], pa.binary())
    rows = rows_by_topic0(col, [a, b, b"\xdd" * 32])
    assert [r.tolist() for r in rows] == [[0, 3, 6], [1, 5], []]


def test_empty_logs_give_each_decoders_empty_table():
    logs, _ = mixed_logs()
    empty = logs.slice(0, 0)
    for (d, addresses), got in zip(wanted(), decode_many(empty, wanted())):
        assert got.num_rows == 0 and got.schema == decoder_of(d)(empty, d, addresses).schema
