"""screen.next_to_liquidate with each row's tries kept between calls (prescreen.Prescreen).

While agents wait out their latency the same under-water rows are screened block after block, and
most are rejected again: on the sample's Monte Carlo paths ~9 in 10 rows the pass judges were judged
before with the same cells, HF and prices. What the screen spends on a row is building its tries,
(d, c, repay, taken, fee) per (debt, collateral, size) through each protocol's terms; those read only
the row's cells, its HF, the oracle prices of the columns it holds (a debt > 0, or collateral > 0
with LT > 0), the parameters, the sizes and (Aave v3.3) its total debt in USD. The venues' quotes
(floor, ceiling) and the bar `needed` enter only the linear ceiling of each try and the verdict.

So a row's tries are kept with that key: its change counter (BookState.versions: every repay, seize,
burn, absorb or grab moves it), its HF and total debt (the same bits), and the price of each column
it holds. Where all stand, the ceilings are computed again from the kept tries at this call's floor
and ceiling, operation for operation as screen._ceilings_py writes them, and judged as
screen._screen_row judges them: the same verdict, the same rows in `out`, bit for bit. Anything else
is screened afresh (`_screen_fresh`: _screen_row's verdict and tries from one pass over the row's columns,
then the tries over the columns it owes in and can seize only; on the sample's Monte Carlo paths ~140,000
fresh screens a path, next_kept 0.328 -> 0.290 CPU s a path, in-process A/B) and kept anew. The parameters and sizes are the caller's to watch: Prescreen
forgets every row when a governance change brings new ones (`KeptTries.forget`).

A fresh screen first bounds every try of each (debt, collateral) pair at once (`_bound_pairs`, `_bound_rejects`:
one division a pair, not each protocol's terms per size); where that bound is below the bar the row is rejected
as _verdict would reject it and its pairs are kept instead of tries. They hold while the row's cells do (its
change counter alone): the bound reads each call's prices, HF, quotes and bar, so a row the oracle moved is
judged again without reading the book; a kept row the bound no longer rejects is screened whole.
"""

from __future__ import annotations

import numpy as np

from backtest.agents.screen import NOT_SCREENED, PYTHON, REJECT, SLACK, _columns_finite, _terms, _verdict
from backtest.protocols.aave.v3 import HF_CLOSE

BOUNDED = -3                  # _screen_fresh's try count for a row its bound rejects: pairs built, no try


class KeptTries:
    """The arenas the kept tries live in: per book row its slot (-1: none); per slot (change counter,
    first try, tries, first key row, held columns, book row, 1 if its tries are _bound_pairs' pairs); the
    tries as screen rows (or pairs); per slot a key
    row (HF, total debt USD) and a (column, price) row per held column; how much of each is used. Full
    arenas are emptied and filled again."""

    def __init__(self, n_rows: int, tries: int = 1 << 18):
        self.slot_of = np.full(n_rows, -1, dtype=np.int64)
        self.ints = np.zeros((tries // 2, 7), dtype=np.int64)
        self.tries = np.zeros((tries, 6))
        self.keys = np.zeros((tries, 2))
        self.fill = np.zeros(3, dtype=np.int64)          # slots, tries, key rows used

    def forget(self) -> None:
        self.slot_of[:] = -1
        self.fill[:] = 0

    def arrays(self) -> tuple:
        return self.slot_of, self.ints, self.tries, self.keys, self.fill


def _kept_slot(i, hf, total, price, versions, memo):
    """Row i's slot if its kept tries hold for this HF, total debt and these prices, else -1."""
    slot_of, ints, _, keys, _ = memo
    s = slot_of[i]
    if s < 0 or ints[s, 0] != versions[i]:
        return -1
    at = ints[s, 3]
    if not (keys[at, 0] == hf and keys[at, 1] == total):
        return -1
    for j in range(at + 1, at + 1 + ints[s, 4]):
        if not price[int(keys[j, 0])] == keys[j, 1]:
            return -1
    return s


def _kept_tries(s, asset_of, floor, ceiling, memo, out):
    """The slot's tries into `out` with their linear ceilings at this floor and ceiling (_ceilings_py's
    arithmetic); how many."""
    ints, tries = memo[1], memo[2]
    first, n = ints[s, 1], ints[s, 2]
    for j in range(n):
        d, c, repay, taken, fee = tries[first + j, 1], tries[first + j, 2], tries[first + j, 3], \
            tries[first + j, 4], tries[first + j, 5]
        low, high = floor[asset_of[int(d)]], ceiling[asset_of[int(c)]]
        sold = taken - fee
        top_p = (sold if not sold < 0 else 0.0) * high
        low_c = repay * low
        out[j, 0] = top_p - low_c + SLACK * (top_p + low_c)
        out[j, 1], out[j, 2], out[j, 3], out[j, 4], out[j, 5] = d, c, repay, taken, fee
    return n


def _keep(i, hf, total, held, m, price, versions, n, out, memo, pairs):
    """Keep row i's n tries in `out` (a fresh screen's; `pairs`: _bound_pairs' rows) with their key: the prices
    of its m held columns held[:m] (ascending)."""
    slot_of, ints, tries, keys, fill = memo
    if n > len(tries) or m + 1 > len(keys):
        slot_of[i] = -1
        return
    if fill[0] >= len(ints) or fill[1] + n > len(tries) or fill[2] + m + 1 > len(keys):
        for s in range(fill[0]):
            slot_of[ints[s, 5]] = -1
        fill[0], fill[1], fill[2] = 0, 0, 0
    s, at = fill[0], fill[2]
    slot_of[i] = s
    ints[s, 0], ints[s, 1], ints[s, 2], ints[s, 3], ints[s, 4], ints[s, 5] = versions[i], fill[1], n, at, m, i
    ints[s, 6] = pairs
    keys[at, 0], keys[at, 1] = hf, total
    for j in range(n):
        for q in range(6):
            tries[fill[1] + j, q] = out[j, q]
    for u in range(m):
        keys[at + 1 + u, 0], keys[at + 1 + u, 1] = held[u], price[held[u]]
    fill[0], fill[1], fill[2] = s + 1, fill[1] + n, at + 1 + m


def _screen_fresh(kind, hf, coll, debt, price, asset_of, lt, bonus, protocol_fee, close_factor, floor, ceiling, sizes,
                  total_debt_usd, needed, columns_finite, out, cols, bound):
    """screen._screen_row (verdict, tries), from one pass over the row's columns: it checks them finite as
    _screen_row does and lists, ascending, the columns owed in (debt > 0, cols[0]), those seizable (collateral
    > 0 with LT > 0, cols[1]) and those held (either, cols[2]); the tries are then _ceilings_py's over those
    lists only, in its order (a column it skips adds no try), the same floats. Returns (verdict, n, m): m
    held columns, for _keep. With `bound`, first _bound_pairs into `out`: where their bound rejects the row,
    (REJECT, BOUNDED, m) and -out[0, 0] pairs in `out`."""
    if not (columns_finite and np.isfinite(needed) and np.isfinite(hf) and np.isfinite(total_debt_usd)):
        return PYTHON, -1, 0
    nd, nc, m = 0, 0, 0
    for r in range(len(coll)):
        if not (np.isfinite(coll[r]) and np.isfinite(debt[r])):
            return PYTHON, -1, 0
        owes, seizable = debt[r] > 0, coll[r] > 0 and lt[r] > 0
        if owes:
            cols[0, nd] = r
            nd += 1
        if seizable:
            cols[1, nc] = r
            nc += 1
        if owes or seizable:
            cols[2, m] = r
            m += 1
    if bound:
        pairs = _bound_pairs(coll, debt, bonus, protocol_fee, close_factor, sizes, cols, nd, nc, out)
        if pairs > 0 and _bound_rejects(out, 0, pairs, kind, hf, price, bonus, protocol_fee, close_factor, sizes,
                                        asset_of, floor, ceiling, needed):
            out[0, 0] = -pairs
            return REJECT, BOUNDED, m
    n = 0
    for u in range(nd):
        d = cols[0, u]
        low = floor[asset_of[d]]
        for w in range(nc):
            c = cols[1, w]
            high = ceiling[asset_of[c]]
            for s in range(len(sizes)):         # _ceilings_py's own lines: a call per pair here cost 10-15 %
                repay, taken, fee = _terms(kind, hf, d, c, coll, debt, price, bonus, protocol_fee, close_factor,
                                           total_debt_usd, sizes[s])
                if not repay <= 0:
                    sold = taken - fee
                    top_p = (sold if not sold < 0 else 0.0) * high
                    low_c = repay * low
                    out[n, 0] = top_p - low_c + SLACK * (top_p + low_c)
                    out[n, 1], out[n, 2], out[n, 3], out[n, 4], out[n, 5] = d, c, repay, taken, fee
                    n += 1
    return _verdict(out, n, needed), n, m


def _bound_pairs(coll, debt, bonus, protocol_fee, close_factor, sizes, cols, nd, nc, out):
    """Each (debt, collateral) pair's (d, c, debt, -, balance) into out[:, 1:6] for _bound_rejects, how many; -1
    where the bound does not hold (a close factor, bonus, fee or size < 0 or NaN). They stand while the row's
    cells do (BookState.versions): the bound reads the prices and HF of its call."""
    for s in range(len(sizes)):
        if not sizes[s] == sizes[s]:
            return -1
    n = 0
    for u in range(nd):
        d = cols[0, u]
        if not close_factor[d] >= 0:
            return -1
        for w in range(nc):
            c = cols[1, w]
            if not (bonus[c] >= 0 and protocol_fee[c] >= 0):
                return -1
            out[n, 1], out[n, 2], out[n, 3], out[n, 4], out[n, 5] = d, c, debt[d], 0.0, coll[c]
            n += 1
    return n


def _bound_rejects(pairs, first, n, kind, hf, price, bonus, protocol_fee, close_factor, sizes, asset_of, floor, ceiling,
                   needed):
    """Whether no try of the n pairs at pairs[first:] (_bound_pairs') can reach `needed` at these prices, HF,
    quotes and bar (all finite, prices > 0). Every kind's terms take collateral worth the repay times (1 + bonus)
    at the oracle prices, k = (1 + bonus) * pd / pc, or less when the balance caps it (then less is repaid, in
    proportion): taken <= repay * k and <= the balance, to a few roundings. The repay is at most R, the smaller
    of balance / k and the cap as _terms reads it (the close factor's share of the debt; Aave v3.3's half of
    the total debt USD is at most the debt) times the largest size (1 at least: v3.3 repays up to its cap and
    Morpho up to the debt whatever the size), 1e-9 more. The liquidator keeps taken - fee = taken * f: Aave
    v3's protocol fee is its share of the bonus part (f = 1 - fee * bonus / (1 + bonus)), Compound's seize
    share its share of the whole (f = 1 - share), none elsewhere (f = 1). So with quotes >= 0 a try's linear
    ceiling (taken - fee) * high - repay * low + SLACK * (...) is at most R * (max(k * f * high - low, 0) +
    SLACK * (k * high + low)); 1e-9 of the terms more (and on f) covers every rounding, the bound's own too,
    and nothing near overflow (a ceiling's inf - inf is NaN, the Python search). It rejects only where
    screen._verdict would: on captured Monte Carlo rounds ~19 in 20 of the rows the tries reject, for a
    division per pair instead of each protocol's terms per size."""
    scale = 1.0
    for s in range(len(sizes)):
        scale = max(scale, sizes[s])
    top = 0.0
    for j in range(first, first + n):
        d, c, owed, balance = int(pairs[j, 1]), int(pairs[j, 2]), pairs[j, 3], pairs[j, 5]
        if kind == 0:
            share = close_factor[d] if hf > HF_CLOSE else 1.0
        elif kind == 1:
            share = 0.5
        elif kind == 3:
            share = close_factor[d]
        else:
            share = 1.0
        k = (1.0 + bonus[c]) * price[d] / price[c]
        most = min(share * owed * scale, balance / k) * (1.0 + 1e-9)
        low, high = floor[asset_of[d]], ceiling[asset_of[c]]
        if not (low >= 0 and high >= 0 and most * (k * high + low) < 1e300):
            return False
        if kind == 0 or kind == 2:
            kept = 1.0 - protocol_fee[c] * bonus[c] / (1.0 + bonus[c])
        elif kind == 3:
            kept = 1.0 - protocol_fee[c]
        else:
            kept = 1.0
        bound = most * (max(k * (kept + 1e-9) * high * (1.0 + 1e-9) - low, 0.0) + 2.0 * SLACK * (k * high + low))
        if bound > top:
            top = bound
    return top + SLACK * abs(needed) < needed


def _next_kept_py(start, rows, per_row, kinds, coll, debt, per_column, asset_of, floor, ceiling, sizes, gas_left, out,
                  versions, memo):
    """screen._next_py's answer (first row k >= start liquidate could act on, its try count), every row
    judged from its kept tries where they hold; rows screened afresh are kept. `per_row`: [4, K] each
    row's (hf, lean, needed, total_debt_usd) as _next_py takes them; `per_column`: [5, R] (price, lt,
    bonus, protocol_fee, close_factor); `versions`: BookState.versions() as of this call; `memo`:
    KeptTries.arrays(). Fewer, stacked arguments: a call costs less to enter (~2 in 3 calls after a
    liquidation judge no row before the one they stop at)."""
    hf, lean, needed, total_debt_usd = per_row[0], per_row[1], per_row[2], per_row[3]
    price, lt, bonus, protocol_fee, close_factor = per_column[0], per_column[1], per_column[2], per_column[3], \
        per_column[4]
    columns = _columns_finite(price, asset_of, bonus, protocol_fee, close_factor, floor, ceiling)
    cols = np.empty((3, len(price)), dtype=np.int64)
    for k in range(start, len(rows)):
        if not lean[k] <= gas_left:
            continue
        i = rows[k]
        if kinds[i] < 0:
            return k, NOT_SCREENED
        s = memo[0][i] if columns and np.isfinite(needed[k]) else -1
        bound = True
        if s >= 0 and memo[1][s, 6]:                # kept pairs, while the row's cells stand: their bound now
            if memo[1][s, 0] == versions[i] and np.isfinite(hf[k]) and np.isfinite(total_debt_usd[k]):
                if _bound_rejects(memo[2], memo[1][s, 1], memo[1][s, 2], kinds[i], hf[k], price, bonus, protocol_fee,
                                  close_factor, sizes, asset_of, floor, ceiling, needed[k]):
                    continue
                bound = False                       # no longer rejected by it: every try
            s = -1
        elif s >= 0:
            s = _kept_slot(i, hf[k], total_debt_usd[k], price, versions, memo)
        if s >= 0:
            n = _kept_tries(s, asset_of, floor, ceiling, memo, out)
            verdict = _verdict(out, n, needed[k])
        else:
            verdict, n, m = _screen_fresh(kinds[i], hf[k], coll[i], debt[i], price, asset_of, lt, bonus, protocol_fee,
                                          close_factor, floor, ceiling, sizes, total_debt_usd[k], needed[k], columns, out,
                                          cols, bound)
            if n >= 0:
                _keep(i, hf[k], total_debt_usd[k], cols[2], m, price, versions, n, out, memo, 0)
            elif n == BOUNDED:
                _keep(i, hf[k], total_debt_usd[k], cols[2], m, price, versions, int(-out[0, 0]), out, memo, 1)
        if verdict != REJECT:
            return k, n
    return len(rows), NOT_SCREENED


try:
    import numba
    _jit = numba.njit(cache=True, nogil=True, error_model="numpy")
    # inlined into next_kept (numba's IR): no reference counting of the ~10 arrays each takes, per row judged
    _inline = numba.njit(cache=True, nogil=True, error_model="numpy", inline="always")
    _bound_pairs, _bound_rejects = _inline(_bound_pairs), _inline(_bound_rejects)
    _kept_slot, _kept_tries, _keep, _screen_fresh = _inline(_kept_slot), _inline(_kept_tries), _inline(_keep), \
        _inline(_screen_fresh)
    next_kept = _jit(_next_kept_py)
except ImportError:                     # pragma: no cover - exercised where numba is absent
    next_kept = None
