"""Bad debt by collateral asset: every dollar of a replay's `bad_debt_usd` credited to one asset,
so that a sweep row's `bad_debt_usd_by_collateral.*` columns add up to its `bad_debt_usd`.

Three parts, as backtest/metrics.py adds them up:

- an account's bad debt (left at the end, or burned as an Aave v3.3 deficit) goes to the asset
  that was its largest collateral at the start;
- Comet's reserves loss goes to the absorbed collateral assets that lost the reserves money: per
  asset, base paid out on its absorbs - base received for it by buyCollateral - what is left of it
  in inventory (all at the final oracle prices; the terms of the loss in backtest/engine/comet.py,
  split by asset; an absorbed base supply counts under the base asset, as the engine records it).
  The loss is shared among the assets whose part is positive, in proportion to it: an asset the
  keepers bought back at a profit takes none of it;
- Maker's uncovered tab goes to each auction's collateral (one ilk, one asset): the tab left when
  its lot ran out, or max(0, tab left - lot left x price) while it is open (backtest/engine/maker.py),
  scaled so the assets' parts add up to the reported loss.

Bad debt with no collateral to credit it to (an account that pledged nothing, a loss no event
explains) goes to `none`.
"""

from __future__ import annotations

import numpy as np

from backtest.inputs.book import ReplayInputs
from backtest.engine.record import Outcome, bad_debt_by_account

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
    """Per collateral asset, USD: the uncovered tab of each auction after its last event."""
    debt = _debt_asset(book, "maker")
    dai = price[debt] if debt else 1.0
    last = {}
    for e in _events(outcome, "maker"):
        last[e["auction"]] = e
    parts: dict[str, float] = {}
    for e in last.values():
        a, tab, lot = e["asset"], e["tab"], e["lot"]
        if e["action"] == "take" and lot <= 0:       # finished: the tab left was not raised
            u = max(tab, 0.0) * dai
        else:                                        # open: what the lot would not cover now
            u = max(0.0, tab * dai - lot * price[a])
        parts[a] = parts.get(a, 0.0) + u
    return parts


def accounts_by_collateral(inputs: ReplayInputs, outcome: Outcome) -> dict[str, float]:
    """Each account's bad debt (left, or burned as a deficit) to its largest starting collateral."""
    book = inputs.book
    start_value = book.collateral * book.reserve_prices
    main = np.array(book.assets)[np.argmax(start_value, axis=1)]
    bad = bad_debt_by_account(outcome.collateral, outcome.debt, outcome.oracle[book.reserve_asset])
    liq = outcome.liquidations
    if "deficit_usd" in liq.column_names and liq.num_rows:     # Aave v3.3 burns it at liquidation
        row = {(p, a): i for i, (p, a) in enumerate(zip(book.protocol, book.accounts))}
        for p, a, d in zip(liq["protocol"].to_pylist(), liq["account"].to_pylist(), liq["deficit_usd"].to_pylist()):
            if d:
                bad[row[(p, a)]] += d
    pledged = start_value.sum(axis=1) > 0
    out = {a: float(bad[(main == a) & pledged].sum()) for a in book.price_assets}
    out[NONE] = float(bad[~pledged].sum())
    return out


def bad_debt_by_collateral(inputs: ReplayInputs, outcome: Outcome) -> dict[str, float]:
    """Every price asset and `none`, in USD; the values add up to the replay's `bad_debt_usd`."""
    book = inputs.book
    out = accounts_by_collateral(inputs, outcome)
    mech = getattr(outcome, "protocols", None) or {}
    price = dict(zip(book.price_assets, np.asarray(outcome.oracle, dtype=float).tolist()))
    for key, parts in (("comet_reserves_loss_usd", comet_parts), ("maker_uncovered_tab_usd", maker_parts)):
        loss = mech.get(key, 0.0)
        if loss > 0:                                 # a mechanism's parts only where it lost money
            for a, v in _share(loss, parts(book, outcome, price)).items():
                out[a] = out.get(a, 0.0) + v
    return out
