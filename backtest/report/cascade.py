"""The cascade view: the steps where most was seized, round by round.

A cascade lives inside a step (round k+1 is what round k's sales made liquidatable), so a time
axis over days shows it as a hairline. Here each of the worst steps gets its own panel: a
waterfall of collateral seized per round (each bar starts where the previous rounds left the
total) and, on the right axis, the oracle price of the step's main collateral at which each
round's liquidations happened.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from backtest.report import figures as fg
from backtest.report.tables import fmt


def worst_steps(liq: pd.DataFrame, n: int = 3) -> list[int]:
    """The `n` steps with the most collateral seized (USD), largest first; ties by step."""
    if not len(liq):
        return []
    per = liq.groupby("step")["collateral_seized_usd"].sum()
    return sorted(per.index.tolist(), key=lambda s: (-per[s], s))[:n]


def rounds_of(liq: pd.DataFrame, step: int) -> pd.DataFrame:
    """Per round of one step: liquidations, USD seized, cumulative USD, and the main collateral's
    oracle price at those liquidations (seized-weighted; NaN in a round that did not seize it)."""
    mine = liq[liq["step"] == step]
    main = mine.groupby("collateral_asset")["collateral_seized_usd"].sum().idxmax()
    g = mine.groupby("round").agg(liquidations=("account", "size"), seized_usd=("collateral_seized_usd", "sum"))
    g = g.reindex(range(int(mine["round"].max()) + 1), fill_value=0)
    m = mine[mine["collateral_asset"] == main]
    w = m["collateral_seized_usd"].where(m["collateral_seized_usd"] > 0, 1.0)
    price = (m["collateral_price"] * w).groupby(m["round"]).sum() / w.groupby(m["round"]).sum()
    g["cumulative_usd"] = g["seized_usd"].cumsum()
    g["price"] = price.reindex(g.index)
    g.attrs["asset"] = main
    return g


def figure(liq: pd.DataFrame, steps: list[int]) -> Figure:
    fig, axes = fg._grid(len(steps), cols=min(len(steps), 3), height=2.8, width=4.4)
    times = liq.drop_duplicates("step").set_index("step")["timestamp"]
    for ax, step in zip(axes, steps):
        r = rounds_of(liq, step)
        scale, unit = fg.usd_scale(r["cumulative_usd"])
        cmap, norm = fg.round_colours(int(r.index.max()))
        bottom = (r["cumulative_usd"] - r["seized_usd"]) / scale
        ax.bar(r.index, r["seized_usd"] / scale, bottom=bottom, color=[cmap(norm(k)) for k in r.index], width=0.8)
        ax.set_xlabel("cascade round")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(f"seized, cumulative ({unit})")
        twin = ax.twinx()
        twin.plot(r.index, r["price"], color=fg.COLORS["oracle"], marker="o", ms=3, lw=1)
        twin.set_ylabel(f"{r.attrs['asset']} oracle (USD)", color=fg.COLORS["oracle"])
        twin.grid(False)
        when = pd.Timestamp(times[step]).strftime("%Y-%m-%d %H:%M")
        ax.set_title(f"step {step} ({when} UTC)")
    return fig


def table(liq: pd.DataFrame, steps: list[int]) -> pd.DataFrame:
    rows = []
    for step in steps:
        r = rounds_of(liq, step)
        p = r["price"].dropna()
        move = p.iloc[-1] / p.iloc[0] - 1 if len(p) > 1 and p.iloc[0] > 0 else np.nan
        rows.append((step, pd.Timestamp(liq.loc[liq["step"] == step, "timestamp"].iloc[0]).strftime("%Y-%m-%d %H:%M"),
                     int(r.index.max()) + 1, fmt(int(r["liquidations"].sum()), "int"),
                     fmt(float(r["seized_usd"].sum()), "usd"), fmt(float(r["seized_usd"].iloc[0]), "usd"),
                     r.attrs["asset"], fmt(move, "pct")))
    return pd.DataFrame(rows, columns=["step", "time (UTC)", "rounds", "liquidations", "seized", "seized in round 0",
                                       "main collateral", "its oracle, first to last round"])
