"""Bad debt split three ways (by collateral asset, by debt asset, by protocol): every dollar of a
replay's `bad_debt_usd` credited to one key, so each split adds up to it. One copy of the rules,
used by the replay's metrics (backtest/metrics.py) and by the sweep's rows.

By collateral asset, three parts, as backtest/metrics.py adds them up:

- an account's bad debt (left at the end, or burned as an Aave v3.3 deficit) goes to the asset
  that was its largest collateral at the start;
- Comet's reserves loss goes to the absorbed collateral assets that lost the reserves money: per
  asset, base paid out on its absorbs - base received for it by buyCollateral - what is left of it
  in inventory (all at the final oracle prices; the terms of the loss in backtest/protocols/comet/mechanism.py,
  split by asset; an absorbed base supply counts under the base asset, as the engine records it).
  The loss is shared among the assets whose part is positive, in proportion to it: an asset the
  keepers bought back at a profit takes none of it;
- Maker's uncovered tab goes to each auction's collateral (one ilk, one asset): the tab left when
  its lot ran out, or max(0, tab left - lot left x price) while it is open (backtest/protocols/maker/mechanism.py),
  scaled so the assets' parts add up to the reported loss; Cat/Flip's loss (Liquidations 1.x) the same
  way, each auction's debt its bid did not cover (or, open, neither its bid nor its lot).

Bad debt with no collateral to credit it to (an account that pledged nothing, a loss no event
explains) goes to `none`.

By debt asset: an account's bad debt left at the end is split over its remaining debt assets in
proportion to their USD value; a burned deficit goes to the debt asset of the liquidation that
burned it; Comet's reserves loss to its base asset, Maker's uncovered tab to DAI.

By protocol: an account's bad debt and deficits to its protocol, Comet's and Maker's losses to
`comet` and `maker`.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from backtest.inputs.book import ReplayInputs
from backtest.inputs.kept import per_book
from backtest.engine.record import Outcome, bad_debt_of_values
from backtest.protocols.maker_flip.flip import ACTIONS as FLIP_ACTIONS

NONE = "none"


def _share(loss: float, parts: dict[str, float]) -> dict[str, float]:
    """`loss` split over the positive parts, in proportion; all of it to NONE when none is positive."""
    loss = float(loss)
    positive = {a: float(v) for a, v in parts.items() if v > 0}
    total = sum(positive.values())
    if loss <= 0:
        return {}
    if total <= 0:
        return {NONE: loss}
    return {a: loss * v / total for a, v in sorted(positive.items())}


def _debt_asset(book, protocol: str) -> str | None:
    """The reserve a mechanism's accounts borrowed at the start (Comet's base, Maker's DAI)."""
    rows = np.asarray(book.protocol) == protocol
    for j, p in enumerate(book.reserve_protocol):
        if p == protocol and book.debt[rows, j].sum() > 0:
            return book.assets[j]
    return None


def _events(outcome: Outcome, protocol: str) -> list[dict]:
    events = getattr(outcome, "events", None)
    if events is None or not events.num_rows:
        return []
    return [e for e in events.select(["protocol", "action", "auction", "asset", "amount", "base_amount",
                                      "tab", "lot", "inventory"]).to_pylist() if e["protocol"] == protocol]


def comet_parts(book, outcome: Outcome, price: dict[str, float]) -> dict[str, float]:
    """Per absorbed asset, USD: base paid out for it - base got back for it - its inventory left."""
    base = _debt_asset(book, "comet")
    parts: dict[str, float] = {}
    inventory: dict[str, float] = {}
    for e in _events(outcome, "comet"):
        a = e["asset"]
        if e["action"] == "absorb":
            parts[a] = parts.get(a, 0.0) + e["base_amount"] * price[base]
        elif e["action"] == "buyCollateral":
            parts[a] = parts.get(a, 0.0) - e["base_amount"] * price[base]
        inventory[a] = e["inventory"]                # units held after the asset's last event
    for a, units in inventory.items():
        if a != base and units == units:            # NaN: no inventory recorded
            parts[a] -= units * price[a]
    return parts


def maker_parts(book, outcome: Outcome, price: dict[str, float]) -> dict[str, float]:
    """Per collateral asset, USD: the Vow's loss of each auction after its last event (the tab left
    less the bark's penalty, tab - due, as the mechanism counts it)."""
    debt = _debt_asset(book, "maker")
    dai = price[debt] if debt else 1.0
    last, penalty = {}, {}
    liq = outcome.liquidations
    due = [x for p, a, x in zip(liq["protocol"].to_pylist(), liq["action"].to_pylist(), liq["debt_repaid"].to_pylist())
           if p == "maker" and a == "bark"] if liq is not None and liq.num_rows else []   # one per auction, in id order
    for e in _events(outcome, "maker"):
        if e["action"] not in FLIP_ACTIONS:
            last[e["auction"]] = e
            if e["action"] == "bark":
                penalty[e["auction"]] = e["base_amount"] - due[len(penalty)] if len(penalty) < len(due) else 0.0
    parts: dict[str, float] = {}
    for k, e in last.items():
        a, tab, lot = e["asset"], e["tab"] - penalty.get(k, 0.0), e["lot"]
        if e["action"] == "take" and lot <= 0:       # finished: the due left was not raised
            u = max(tab, 0.0) * dai
        else:                                        # open: what the lot would not cover now
            u = max(0.0, tab * dai - lot * price[a])
        parts[a] = parts.get(a, 0.0) + u
    return parts


def flip_parts(book, outcome: Outcome, price: dict[str, float]) -> dict[str, float]:
    """Per collateral asset, USD: each Cat/Flip auction's debt (its bite's `base_amount`) its bid did not
    cover when dealt, or neither its bid nor its lot covers while open (backtest/protocols/maker_flip)."""
    debt = _debt_asset(book, "maker")
    dai = price[debt] if debt else 1.0
    due, last = {}, {}
    for e in _events(outcome, "maker"):
        if e["action"] in FLIP_ACTIONS:
            if e["action"] == "bite":
                due[e["auction"]] = e["base_amount"]
            else:
                last[e["auction"]] = e
    parts: dict[str, float] = {}
    for k, owed in due.items():
        e = last.get(k)
        bid, lot = (e["base_amount"], e["lot"]) if e else (0.0, None)
        asset = e["asset"] if e else next(x["asset"] for x in _events(outcome, "maker") if x["auction"] == k)
        cover = bid * dai if e and e["action"] == "deal" else max(bid * dai, (lot or 0.0) * price[asset])
        parts[asset] = parts.get(asset, 0.0) + max(owed * dai - cover, 0.0)
    return parts


def _burned(inputs: ReplayInputs, outcome: Outcome) -> list[tuple[int, str, float]]:
    """(account row, debt asset, USD) of each deficit Aave v3.3+ burned at a liquidation. The liquidations
    with a deficit (nonzero or NaN: what `if x` keeps) are picked in arrow before any row becomes Python
    objects, and their accounts' book rows by arrow's hashed is_in over the book's names (BookKeys.accounts),
    not np.isin's sort of every name each run."""
    book, liq = inputs.book, outcome.liquidations
    if "deficit_usd" not in liq.column_names or not liq.num_rows:
        return []
    liq = liq.filter(pc.fill_null(pc.not_equal(liq["deficit_usd"], 0.0), False))
    if not liq.num_rows:
        return []
    debt = liq["debt_asset"].to_pylist() if "debt_asset" in liq.column_names else [NONE] * liq.num_rows
    burned = list(zip(liq["protocol"].to_pylist(), liq["account"].to_pylist(), debt, liq["deficit_usd"].to_pylist()))
    # the (protocol, account) -> row index of the book, for the accounts that burned a deficit only
    names = pa.array(sorted({a for _, a, _, _ in burned}), pa.string())
    hits = np.flatnonzero(pc.is_in(book_keys(book).accounts, value_set=names).to_numpy(zero_copy_only=False))
    accounts = book.accounts
    row = {(book.protocol[i], accounts[i]): int(i) for i in hits}      # ascending: a repeated key keeps the last row
    return [(row[(p, a)], d, x) for p, a, d, x in burned]


@dataclass(frozen=True)
class Settled:
    """One replay's bad debt left per account and its burned deficits, computed once and handed to
    each split (a sweep row asks for four splits: each used to recompute both)."""
    left: np.ndarray                          # bad_debt_by_account at the end; read-only here
    burned: list[tuple[int, str, float]]      # _burned
    unsecured: float = 0.0                    # debt USD of the accounts left with no collateral value


class BookKeys:
    """What the splits read of the starting book alone, worked out once per book: a sweep's paths share
    one book, and these took ~0.05 CPU-s of a Monte Carlo path's metrics each time."""

    def __init__(self, book_ref):
        self._book = book_ref                 # a weak reference where book_keys keeps these (inputs/kept.py)
        self._zeros: list[np.ndarray] = []    # zeros()'s array between uses

    @property
    def book(self):
        return self._book()

    @cached_property
    def _start_value(self) -> np.ndarray:
        return self.book.collateral * self.book.reserve_prices

    @cached_property
    def start_usd(self) -> tuple[float, float, int]:  # collateral and debt USD at the start, accounts with debt
        book = self.book
        return (float((book.collateral @ book.reserve_prices).sum()), float((book.debt @ book.reserve_prices).sum()),
                int((book.debt.sum(axis=1) > 0).sum()))

    @cached_property
    def main(self) -> np.ndarray:                     # each account's largest collateral at the start
        return np.array(self.book.assets)[np.argmax(self._start_value, axis=1)]

    @cached_property
    def pledged(self) -> np.ndarray:
        return self._start_value.sum(axis=1) > 0

    @cached_property
    def protocol(self) -> np.ndarray:
        return np.asarray(self.book.protocol).astype(str)

    @cached_property
    def protocols(self) -> list[str]:
        return sorted(set(self.protocol.tolist()))

    @cached_property
    def rows_of_protocol(self) -> dict[str, np.ndarray]:      # ascending rows: bad[rows] sums as bad[mask]
        return {p: np.flatnonzero(self.protocol == p) for p in self.protocols}

    @cached_property
    def rows_by_main(self) -> dict[str, np.ndarray]:          # pledged rows by their largest collateral
        return {a: np.flatnonzero((self.main == a) & self.pledged) for a in self.book.price_assets}

    @cached_property
    def accounts(self) -> pa.Array:                          # the account names, for arrow's hashed is_in
        return pa.array(np.asarray(self.book.accounts).tolist(), pa.string())

    @cached_property
    def unpledged(self) -> np.ndarray:
        return np.flatnonzero(~self.pledged)

    @contextmanager
    def zeros(self, shape: tuple):
        """An [N, R] array of zeros, kept between runs and handed back zeroed (the caller clears what it set):
        a fresh np.zeros of the 50,000-account sample's 16 MB faulted its pages in at each sweep path
        (~10 ms of bad_debt_by_debt_asset's 11); one taken while in use is made new."""
        got = self._zeros.pop() if self._zeros and self._zeros[-1].shape == shape else np.zeros(shape)
        yield got
        self._zeros[:] = [got]

    @cached_property
    def morpho_markets(self) -> list[tuple[int, str]]:       # (row, market id) of Morpho Blue's ACCOUNT@MARKET rows
        book = self.book
        return [(i, str(book.accounts[i]).rpartition("@")[2]) for i in np.flatnonzero(self.protocol == "morpho-blue")]


def book_keys(book) -> BookKeys:
    """The book's BookKeys, kept while the book lives (inputs/kept.py)."""
    return per_book(book, "metrics.book_keys", BookKeys)


def settle(inputs: ReplayInputs, outcome: Outcome) -> Settled:
    """The two products bad_debt_by_account takes, once: `compute` reads the unsecured debt off them too."""
    coll, debt = outcome.collateral @ outcome.prices, outcome.debt @ outcome.prices
    left = bad_debt_of_values(coll, debt)
    return Settled(left, _burned(inputs, outcome), float(debt[(coll <= 0) & (debt > 0)].sum()))


def _settled(inputs: ReplayInputs, outcome: Outcome, settled: Settled | None) -> Settled:
    return settled if settled is not None else settle(inputs, outcome)


def _left(settled: Settled) -> np.ndarray:
    return settled.left.copy()                # the callers add deficits into it


def accounts_by_collateral(inputs: ReplayInputs, outcome: Outcome, settled: Settled | None = None) -> dict[str, float]:
    """Each account's bad debt (left, or burned as a deficit) to its largest starting collateral."""
    book = inputs.book
    settled = _settled(inputs, outcome, settled)
    keys = book_keys(book)
    bad = _left(settled)
    for i, _, x in settled.burned:
        bad[i] += x
    out = {a: float(bad[rows].sum()) for a, rows in keys.rows_by_main.items()}
    out[NONE] = float(bad[keys.unpledged].sum())
    return out


def _mechanism_losses(outcome: Outcome) -> list[tuple[str, str, float]]:
    mech = getattr(outcome, "protocols", None) or {}
    return [(p, k, mech.get(k, 0.0)) for p, k in (("comet", "comet_reserves_loss_usd"),
                                                   ("maker", "maker_vow_loss_usd"),
                                                   ("maker", "maker_flip_loss_usd")) if mech.get(k, 0.0) > 0]


def bad_debt_by_collateral(inputs: ReplayInputs, outcome: Outcome, settled: Settled | None = None) -> dict[str, float]:
    """Every price asset and `none`, in USD; the values add up to the replay's `bad_debt_usd`."""
    book = inputs.book
    out = accounts_by_collateral(inputs, outcome, settled)
    price = dict(zip(book.price_assets, np.asarray(outcome.oracle, dtype=float).tolist()))
    parts_of = {"comet_reserves_loss_usd": comet_parts, "maker_vow_loss_usd": maker_parts,
                "maker_flip_loss_usd": flip_parts}
    for _, key, loss in _mechanism_losses(outcome):      # a mechanism's parts only where it lost money
        for a, v in _share(loss, parts_of[key](book, outcome, price)).items():
            out[a] = out.get(a, 0.0) + v
    return out


def bad_debt_by_debt_asset(inputs: ReplayInputs, outcome: Outcome, settled: Settled | None = None) -> dict[str, float]:
    """Every price asset and `none`, in USD, adding up to `bad_debt_usd`: what the protocols are short of."""
    book = inputs.book
    settled = _settled(inputs, outcome, settled)
    rows = np.flatnonzero(settled.left)         # the others add exact zeros: their shares need not be worked out
    owed = outcome.debt[rows] * outcome.prices                     # [n, R] USD still owed
    total = owed.sum(axis=1)
    with book_keys(book).zeros(outcome.debt.shape) as share:
        share[rows] = np.divide(owed, total[:, None], out=np.zeros_like(owed), where=total[:, None] > 0)
        by_reserve = settled.left @ share
        share[rows] = 0.0
    out = {a: 0.0 for a in book.price_assets}
    for j, v in enumerate(by_reserve.tolist()):
        out[book.price_assets[book.reserve_asset[j]]] += v
    out[NONE] = 0.0
    for _, d, x in settled.burned:
        out[d if d in out else NONE] += x
    for protocol, _, loss in _mechanism_losses(outcome):
        out[_debt_asset(book, protocol) or NONE] += loss
    return out


def bad_debt_by_protocol(inputs: ReplayInputs, outcome: Outcome, settled: Settled | None = None) -> dict[str, float]:
    """Every protocol of the book, in USD, adding up to `bad_debt_usd`."""
    book = inputs.book
    settled = _settled(inputs, outcome, settled)
    keys = book_keys(book)
    bad = _left(settled)
    for i, _, x in settled.burned:
        bad[i] += x
    out = {p: float(bad[rows].sum()) for p, rows in keys.rows_of_protocol.items()}
    for protocol, _, loss in _mechanism_losses(outcome):
        out[protocol] = out.get(protocol, 0.0) + loss
    return out


def bad_debt_by_morpho_market(inputs: ReplayInputs, outcome: Outcome, settled: Settled | None = None) -> dict[str, float]:
    """Morpho Blue's bad debt per market id (its rows are ACCOUNT@MARKET_ID): what each market's suppliers
    lose, left on accounts or realised when a liquidation took the last collateral; adds up to
    bad_debt_usd_by_protocol["morpho-blue"]. Empty without Morpho rows."""
    rows = book_keys(inputs.book).morpho_markets
    if not rows:
        return {}
    settled = _settled(inputs, outcome, settled)
    bad = _left(settled)
    for i, _, x in settled.burned:
        bad[i] += x
    out: dict[str, float] = {}
    for i, market in rows:
        out[market] = out.get(market, 0.0) + float(bad[i])
    return dict(sorted(out.items()))
