"""Which decoder reads which definition (fixed words: decode.py; DSNote calldata: lognote.py; a trailing
string: dynamic.py), and every event of a batch in one pass over the logs (`decode_many`, what ingest
uses). It sits above the three decoders so none of them imports another's dispatcher."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from backtest.ingest.decode import _META_INTS, _numpy, _table, _widths, decode, fixed, one_chunk, rows_by_topic0
from backtest.ingest.dynamic import decode_dynamic, is_dynamic
from backtest.ingest.events import Event, Note
from backtest.ingest.lognote import decode_note


def decoder_of(definition):
    """The decoder of an event or note definition: fixed words, DSNote calldata, or a trailing string."""
    if isinstance(definition, Note):
        return decode_note
    return decode_dynamic if is_dynamic(definition) else decode


def _shape(n_topics: int, n_data: int) -> int:
    """One integer per (topics 1-3 present, data length): 8 · length + bit i-1 for topic i."""
    return 8 * n_data + (1 << n_topics) - 1


def decode_many(logs: pa.Table, wanted: list[tuple[Event, list[bytes] | None]]) -> list[pa.Table]:
    """Decoded tables of many (event or note, addresses), each equal to its own decoder's table over all
    `logs`. The logs are grouped by topic0 once; an event's other rules (address, topics present, data
    length) then read only its topic0's rows, from per-log codes computed once."""
    topic0s = list(dict.fromkeys(ev.topic0 for ev, _ in wanted))
    groups = dict(zip(topic0s, rows_by_topic0(logs["topic0"], topic0s)))
    known = list(dict.fromkeys(a for _, addrs in wanted for a in addrs or ()))
    source = _numpy(pc.fill_null(pc.index_in(logs["address"], value_set=pa.array(known, pa.binary())), -1),
                    np.int32) + 1 if known else None       # 0: an address none of them has
    shape = 8 * _numpy(pc.fill_null(pc.binary_length(logs["data"]), -1), np.int32)    # null data: no length
    for i in range(1, 4):
        shape += _numpy(pc.is_valid(logs[f"topic{i}"]), np.int32) << (i - 1)
    out = []
    for ev, addrs in wanted:
        rows = groups[ev.topic0]
        decoder = decoder_of(ev)
        if decoder is not decode:                           # rare events: their own rules on their rows
            out.append(decoder(logs.take(rows), ev, addrs))
            continue
        width = _widths(ev)
        keep = shape[rows] == _shape(sum(p.indexed for p in ev.params), width["data"])
        if addrs is not None:
            allowed = np.zeros(len(known) + 1, bool)
            allowed[[known.index(a) + 1 for a in addrs]] = True
            keep &= allowed[source[rows]] if known else False
        mine = logs.select([*_META_INTS, *width]).take(rows[keep])
        got = {name: _numpy(mine[name]) for name in _META_INTS}
        for name, n in width.items():
            got[name] = fixed(one_chunk(mine[name]), n, name.replace("_", " "))
        out.append(_table(got, ev))
    return out
