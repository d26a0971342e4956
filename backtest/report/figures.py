"""The report's figures: data frames in, matplotlib Figures out, then SVG text.

No pyplot (no global figure state, no GUI backend): each function builds its own Figure.
SVG is written with a fixed hash salt and no date, so the same run gives the same bytes.
Dense scatters are rasterised inside the SVG to keep a 50,000-account report small.
"""

from __future__ import annotations

import io

import matplotlib
import matplotlib.dates as mdates
import matplotlib.patches
import numpy as np
import pandas as pd
from matplotlib.colors import BoundaryNorm, ListedColormap
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter
from matplotlib.figure import Figure
from matplotlib.ticker import NullFormatter

STYLE = {"svg.hashsalt": "backtest-report", "svg.fonttype": "path", "font.size": 9, "axes.titlesize": 9,
         "axes.spines.top": False, "axes.spines.right": False, "axes.grid": True, "grid.alpha": 0.3,
         "legend.fontsize": 8, "legend.frameon": False}
COLORS = {"exogenous": "#7f7f7f", "amm": "#1f77b4", "oracle": "#ff7f0e", "before": "#1f77b4", "after": "#d62728"}
RASTER_ABOVE = 2000   # points; above this a scatter is a bitmap inside the SVG


def usd_scale(values) -> tuple[float, str]:
    """(divisor, unit) that puts the largest |value| between 1 and 1,000: USD, USD k, USD m, USD bn."""
    top = float(np.nanmax(np.abs(np.asarray(values, dtype=float)))) if np.size(values) else 0.0
    for scale, unit in ((1e9, "USD bn"), (1e6, "USD m"), (1e3, "USD k")):
        if top >= scale:
            return scale, unit
    return 1.0, "USD"


def to_svg(fig: Figure) -> str:
    """SVG text of a figure, byte-stable for the same figure."""
    buf = io.StringIO()
    with matplotlib.rc_context(STYLE):
        fig.savefig(buf, format="svg", metadata={"Date": None}, bbox_inches="tight", dpi=150)
    text = buf.getvalue()
    return text[text.index("<svg"):]   # drop the XML prolog and doctype: the SVG goes inside an <img> data URI


def utc_naive(ts: pd.Series) -> np.ndarray:
    """UTC timestamps as naive datetime64, which matplotlib's date axis takes without tz guesses."""
    ts = pd.to_datetime(ts)
    if getattr(ts.dt, "tz", None) is not None:
        ts = ts.dt.tz_convert("UTC").dt.tz_localize(None)
    return ts.to_numpy(dtype="datetime64[us]")


def step_times(steps: pd.DataFrame) -> np.ndarray:
    """The run's step times, sorted, as naive UTC (the x grid of the per-step figures)."""
    return np.unique(utc_naive(steps["timestamp"]))


def _date_axis(ax) -> None:
    locator = AutoDateLocator(minticks=3, maxticks=7)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(ConciseDateFormatter(locator, show_offset=True))


def _grid(n: int, cols: int = 2, height: float = 2.6, width: float = 4.6) -> tuple[Figure, list]:
    rows = max(1, -(-n // cols))
    with matplotlib.rc_context(STYLE):
        fig = Figure(figsize=(width * min(cols, max(n, 1)), height * rows), layout="constrained")
        axes = fig.subplots(rows, min(cols, max(n, 1)), squeeze=False).ravel().tolist()
    for ax in axes[n:]:
        ax.set_visible(False)
    return fig, axes[:n]


def round_colours(depth: int) -> tuple[ListedColormap, BoundaryNorm]:
    """One colour per cascade round 0..depth (viridis sampled), with integer boundaries."""
    n = max(depth, 0) + 1
    cmap = ListedColormap(matplotlib.colormaps["viridis"](np.linspace(0.0, 0.9, n)))
    return cmap, BoundaryNorm(np.arange(-0.5, n + 0.5), n)


def moving_assets(steps: pd.DataFrame, liq: pd.DataFrame, tolerance: float = 0.005) -> list[str]:
    """Assets whose price moved more than `tolerance` or that were seized: the ones worth a panel."""
    moved = steps.groupby("asset")["price_exogenous"].agg(lambda p: p.max() / p.min() - 1 if p.min() > 0 else 0)
    seized = set(liq["collateral_asset"]) if len(liq) else set()
    return sorted(a for a in moved.index if moved[a] > tolerance or a in seized)


def price_paths(steps: pd.DataFrame, liq: pd.DataFrame, depth: int) -> Figure:
    assets = moving_assets(steps, liq)
    fig, axes = _grid(len(assets))
    cmap, norm = round_colours(depth)
    for ax, asset in zip(axes, assets):
        s = steps[steps["asset"] == asset].sort_values("step")
        t = utc_naive(s["timestamp"])
        ax.plot(t, s["price_exogenous"], color=COLORS["exogenous"], ls="--", lw=1, label="exogenous")
        if s["price_amm"].notna().any():
            ax.plot(t, s["price_amm"], color=COLORS["amm"], lw=1.2, label="AMM pool")
        ax.step(t, s["price_oracle"], where="post", color=COLORS["oracle"], lw=1, label="oracle")
        mine = liq[liq["collateral_asset"] == asset]
        if len(mine):
            sc = ax.scatter(utc_naive(mine["timestamp"]), mine["collateral_price"], c=mine["round"], cmap=cmap,
                            norm=norm, s=10, marker="v", zorder=3, linewidths=0, label="liquidation (seized)")
            sc.set_rasterized(len(mine) > RASTER_ABOVE)
        ax.set_title(f"{asset} (USD)")
        _date_axis(ax)
    if axes:
        axes[0].legend(loc="best")
        if len(liq):
            round_key(fig, axes, depth)
    return fig


def _round_ticks(depth: int) -> list[int]:
    return list(range(0, depth + 1, max(1, -(-(depth + 1) // 8))))


def _stacked_steps(ax, table: pd.DataFrame, times: np.ndarray, colour, scale: float) -> None:
    """Per-step values (index: time) as stacked filled stairs over the run's step grid, one patch per
    column: a 30-round cascade over 145 steps is 30 shapes, not 4,000 bars (SVG size and time)."""
    table = table.reindex(times, fill_value=0.0)
    edges = mdates.date2num(np.append(times, times[-1] + (times[-1] - times[-2] if len(times) > 1 else
                                                          np.timedelta64(600, "s"))))
    bottom = np.zeros(len(table))
    for col in table.columns:
        top = bottom + table[col].to_numpy() / scale
        ax.stairs(top, edges, baseline=bottom, fill=True, color=colour(col), linewidth=0, label=str(col))
        bottom = top
    ax.xaxis_date()


def time_bins(times: np.ndarray, most: int = 48) -> tuple[np.ndarray, str]:
    """At most `most` bins of whole steps over the run (10-minute steps over 48 h would be hairlines),
    and the bin's width in words."""
    k = max(1, -(-len(times) // most))
    bins = times[::k]
    step = (times[1] - times[0]) if len(times) > 1 else np.timedelta64(600, "s")
    minutes = int((step * k) / np.timedelta64(1, "m"))
    width = f"{minutes // 60} h" if minutes % 60 == 0 else f"{minutes} min"
    return bins, width.replace("1 h", "hour") if minutes == 60 else width


def liquidations_over_time(liq: pd.DataFrame, depth: int, times: np.ndarray, by: str = "round") -> Figure:
    """Collateral seized per step (USD in a unit fit for the largest step), one panel per protocol,
    stacked by cascade round (`by="round"`) or by collateral asset (`by="collateral_asset"`)."""
    protocols = sorted(liq["protocol"].unique()) if len(liq) else []
    fig, axes = _grid(len(protocols), height=2.4)
    cmap, norm = round_colours(depth)
    assets = sorted(liq["collateral_asset"].unique()) if len(liq) else []
    palette = matplotlib.colormaps["tab10"]
    colour = (lambda r: cmap(norm(r))) if by == "round" else (lambda a: palette(assets.index(a) % 10))
    bins, width = time_bins(times)
    for ax, protocol in zip(axes, protocols):
        mine = liq[liq["protocol"] == protocol]
        table = mine.pivot_table(index="timestamp", columns=by, values="collateral_seized_usd", aggfunc="sum",
                                 fill_value=0.0).sort_index()
        table.index = utc_naive(pd.Series(table.index))
        table = table.groupby(bins[np.searchsorted(bins, table.index.to_numpy(), side="right") - 1]).sum()
        scale, unit = usd_scale(table.sum(axis=1))
        _stacked_steps(ax, table, bins, colour, scale)
        ax.set_title(f"{protocol}: seized per {width} ({unit})")
        _date_axis(ax)
    if protocols and by == "round":
        round_key(fig, axes, depth)
    elif protocols:
        handles = [matplotlib.patches.Patch(color=palette(i % 10), label=a) for i, a in enumerate(assets)]
        fig.legend(handles=handles, loc="outside right upper", title="collateral")
    return fig


def round_key(fig: Figure, axes: list, depth: int) -> None:
    """Up to 8 rounds a legend with one swatch each; deeper cascades a colour bar."""
    cmap, norm = round_colours(depth)
    if depth < 8:
        handles = [matplotlib.patches.Patch(color=cmap(norm(r)), label=f"round {r}") for r in range(depth + 1)]
        fig.legend(handles=handles, loc="outside right upper", title="cascade")
    else:
        fig.colorbar(matplotlib.cm.ScalarMappable(norm=norm, cmap=cmap), ax=axes, label="cascade round",
                     ticks=_round_ticks(depth), shrink=0.5, aspect=30)


def bad_debt(steps: pd.DataFrame, by_asset: pd.Series | None) -> Figure:
    fig, axes = _grid(2 if by_asset is not None else 1)
    series = steps.drop_duplicates("step").sort_values("step")
    scale, unit = usd_scale(series["bad_debt_usd"])
    axes[0].plot(utc_naive(series["timestamp"]), series["bad_debt_usd"] / scale, color=COLORS["after"])
    axes[0].set_title(f"bad debt over time ({unit}, at the oracle)")
    _date_axis(axes[0])
    if by_asset is not None:
        shown = by_asset[by_asset >= 0.5].sort_values(ascending=False)     # whole dollars
        scale, unit = usd_scale(shown)
        axes[1].bar(shown.index.astype(str), shown.to_numpy() / scale, color=COLORS["after"])
        axes[1].set_title(f"bad debt at the end by debt asset ({unit})")
    return fig


def hf_distribution(accounts: pd.DataFrame, lo: float = 0.5, hi: float = 5.0) -> Figure:
    """Histogram of HF (log scale, clipped into [lo, hi]) of borrowing accounts, before and after."""
    fig, axes = _grid(1, cols=1, height=3.2, width=9.2)
    ax = axes[0]
    bins = np.geomspace(lo, hi, 61)
    for when in ("before", "after"):
        borrowing = accounts[accounts[f"debt_usd_{when}"] > 0]
        hf = np.clip(borrowing[f"health_factor_{when}"].to_numpy(float), lo, hi * 0.9999)
        ax.hist(hf, bins=bins, histtype="step", lw=1.5, color=COLORS[when],
                label=f"{when} ({len(borrowing):,} borrowing accounts)")
    ax.axvline(1.0, color="black", lw=0.8, ls=":")
    ax.set_xscale("log")
    ax.set_xticks([0.5, 0.8, 1, 1.25, 1.5, 2, 3, 5], labels=["≤0.5", "0.8", "1", "1.25", "1.5", "2", "3", "≥5"])
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("health factor")
    ax.set_ylabel("accounts")
    ax.legend(loc="upper right")
    return fig


def pool_depth(steps: pd.DataFrame, depth_units: dict[str, float] | None) -> Figure:
    """Cumulative sales of each pooled asset in multiples of its starting 2 % depth (assets whose
    depth is known), or in USD when no asset's depth is known; and the pool's discount to the
    exogenous price. One unit per panel: assets without a known depth are left off the left panel
    when others have one (`depth_panel_assets` names who is on it)."""
    pooled = steps[steps["price_amm"].notna()]
    assets = sorted(pooled["asset"].unique())
    fig, axes = _grid(2)
    on_depth = depth_panel_assets(assets, depth_units)
    series = {a: pooled[pooled["asset"] == a].sort_values("step") for a in assets}
    scale, unit = usd_scale([series[a]["sold_usd"].sum() for a in assets]) if not on_depth else (1.0, "")
    for asset in assets:
        s = series[asset]
        t = utc_naive(s["timestamp"])
        if on_depth and asset in on_depth:
            axes[0].plot(t, s["sold"].cumsum().to_numpy() / depth_units[asset], label=asset)
        elif not on_depth:
            axes[0].plot(t, s["sold_usd"].cumsum().to_numpy() / scale, label=asset)
        axes[1].plot(t, 100 * (s["price_amm"] / s["price_exogenous"] - 1), label=asset)
    axes[0].set_title("sold into the market, cumulative" +
                      (" (× its starting 2 % depth)" if on_depth else f" ({unit})"))
    axes[1].set_title("pool price vs exogenous price (%)")
    for ax in axes:
        _date_axis(ax)
    if assets:
        axes[0].legend(loc="upper left")
    return fig


def depth_panel_assets(assets: list[str], depth_units: dict[str, float] | None) -> list[str]:
    """The assets drawn in multiples of their 2 % depth: those with a known, positive depth."""
    return [a for a in assets if depth_units and depth_units.get(a)]


def compare_paths(runs: list[tuple[str, pd.DataFrame, pd.DataFrame]]) -> Figure:
    """Bad debt and cumulative collateral seized over time, one line per run (name, steps, liquidations)."""
    fig, axes = _grid(2)
    bad_scale, bad_unit = usd_scale(np.concatenate([s["bad_debt_usd"].to_numpy(float) for _, s, _ in runs]))
    seized_scale, seized_unit = usd_scale([liq["collateral_seized_usd"].sum() for _, _, liq in runs])
    for name, steps, liq in runs:
        s = steps.drop_duplicates("step").sort_values("step")
        axes[0].plot(utc_naive(s["timestamp"]), s["bad_debt_usd"] / bad_scale, label=name)
        per_step = liq.groupby("step")["collateral_seized_usd"].sum().reindex(s["step"], fill_value=0.0)
        axes[1].plot(utc_naive(s["timestamp"]), per_step.cumsum().to_numpy() / seized_scale, label=name)
    axes[0].set_title(f"bad debt ({bad_unit})")
    axes[1].set_title(f"collateral seized, cumulative ({seized_unit})")
    for ax in axes:
        _date_axis(ax)
    axes[0].legend(loc="upper left")
    return fig


def heatmap_grid(table: pd.DataFrame, x: str, y: str, value: str) -> pd.DataFrame:
    """Mean of `value` per (y, x) cell, rows and columns in ascending parameter order."""
    return table.pivot_table(index=y, columns=x, values=value, aggfunc="mean").sort_index().sort_index(axis=1)


def heatmap(table: pd.DataFrame, x: str, y: str, value: str, title: str) -> Figure:
    """`value` (mean over paths) on a grid of two swept parameters, each cell labelled."""
    grid = heatmap_grid(table, x, y, value)
    fig, axes = _grid(1, cols=1, height=0.5 * len(grid.index) + 2.0)
    ax = axes[0]
    im = ax.imshow(grid.to_numpy(float), cmap="magma_r", aspect="auto", origin="lower")
    ax.set_xticks(range(len(grid.columns)), labels=[f"{v:g}" for v in grid.columns])
    ax.set_yticks(range(len(grid.index)), labels=[f"{v:g}" for v in grid.index])
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    ax.grid(False)
    finite = grid.to_numpy(float)
    mid = np.nanmean(finite) if np.isfinite(finite).any() else 0.0
    for (i, j), v in np.ndenumerate(finite):
        ax.text(j, i, _short_usd(v), ha="center", va="center", fontsize=8, color="white" if v > mid else "black")
    ax.set_title(title)
    fig.colorbar(im, ax=ax, shrink=0.8)
    return fig


def bad_debt_across_paths(results: pd.DataFrame, labels: dict[int, str]) -> Figure:
    """Bad debt of every path, one row per parameter set (box: quartiles; dots: paths; ◆: mean)."""
    sets = sorted(results["set_id"].unique())
    fig, axes = _grid(1, cols=1, height=0.45 * len(sets) + 1.2, width=9.2)
    ax = axes[0]
    scale, unit = usd_scale(results["bad_debt_usd"])
    data = [results.loc[results["set_id"] == s, "bad_debt_usd"].to_numpy(float) / scale for s in sets]
    try:
        ax.boxplot(data, orientation="horizontal", widths=0.5, showfliers=False)
    except TypeError:                                  # matplotlib < 3.10
        ax.boxplot(data, vert=False, widths=0.5, showfliers=False)
    for i, values in enumerate(data, start=1):
        jitter = np.linspace(-0.15, 0.15, len(values)) if len(values) > 1 else np.zeros(1)
        ax.scatter(values, i + jitter, s=6, color=COLORS["amm"], alpha=0.5, linewidths=0,
                   rasterized=len(values) > RASTER_ABOVE)
        ax.scatter([values.mean()], [i], marker="D", s=22, color=COLORS["after"], zorder=3)
    ax.set_yticks(range(1, len(sets) + 1), labels=[labels.get(s, f"set {s}") for s in sets])
    ax.invert_yaxis()
    ax.set_xlabel(f"bad debt ({unit})")
    ax.set_title("bad debt across paths, per parameter set")
    return fig


def _short_usd(v: float) -> str:
    if not np.isfinite(v):
        return "-"
    for unit, scale in (("bn", 1e9), ("m", 1e6), ("k", 1e3)):
        if abs(v) >= scale:
            return f"${v / scale:.1f}{unit}"
    return f"${v:.0f}"
