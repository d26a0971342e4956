"""`backtest calibrate`: fit the reference market's impact parameters on the real data folder."""

from __future__ import annotations

from pathlib import Path


def register(sub) -> None:
    p = sub.add_parser("calibrate", help="fit the impact model's parameters on real data (docs/calibration.md)",
                       description="Daily volume and volatility per asset from the Binance hourly files, the "
                                   "square-root prefactor Y, permanent share and half-life from the Binance-futures "
                                   "liquidation minutes, and the Uniswap ETH/DAI pool's 2 %% depth on the crash days.",
                       epilog="example: backtest calibrate --real ../shared/data/real "
                              "--write backtest/markets/impact_params.py")
    p.add_argument("--real", type=Path, default=None,
                   help="real data folder (default $BACKTEST_REAL_DATA, else ../shared/data/real beside the repo)")
    p.add_argument("--write", type=Path, default=None, metavar="PY",
                   help="also write the table as a Python module (backtest/markets/impact_params.py)")
    p.add_argument("--bootstrap", type=int, default=100, help="day-block bootstrap draws for the errors (seeded)")
    p.add_argument("--no-robustness", action="store_true", help="skip the refits under other choices (faster)")
    p.set_defaults(func=main)


def report(cal) -> str:
    from backtest.calibration.table import params

    imp = cal.impact
    table, default, _ = params(cal)
    out = ["asset    V (USD/day)   sigma/day  window"]
    for asset, row in table.items():
        s = cal.spot[asset]
        out.append(f"{asset:<8} {row[0]:>12,.0f}  {row[1]:>9.4f}  {s.first_day}..{s.last_day} ({s.days} days)")
    out.append(f"{'DEFAULT':<8} {default[0]:>12,.0f}  {default[1]:>9.4f}  (thinnest V, largest sigma)")
    out.append("")
    out.append(f"impact fit (Binance ETH futures 2021-01, n={imp.n:,} minutes, V={cal.futures_volume_usd:,.0f}, "
               f"sigma={cal.futures_volatility:.4f}):")
    out.append(f"  Y     = {imp.y:.3g} (se {imp.y_se:.2f})")
    out.append(f"  theta = {imp.permanent_share:.3g} (se {imp.permanent_share_se:.2f})")
    out.append(f"  h     = {imp.half_life_seconds:,.0f} s (bootstrap 5-95 %: {imp.half_life_low:,.0f}..{imp.half_life_high:,.0f} s)")
    out.append(f"  R^2 first minute {imp.r2_first:.3f}; R^2 of the decay curve {imp.r2_curve:.3f}")
    out.append("  response per unit x by horizon: " + ", ".join(
        f"{h / 60:g}m {b:.2f}" for h, b in zip(imp.horizons_s, imp.response)))
    for label, fit in cal.robustness:
        out.append(f"  robustness, {label}: Y {fit.y:.3g}, theta {fit.permanent_share:.3f}, "
                   f"h {fit.half_life_seconds:,.0f} s")
    out.append("")
    out.append("Uniswap ETH/DAI 2 % depth vs the calibrated ETH reference market:")
    out.append("day          pool median   pool min      CEX 2 %       ratio")
    for r in cal.pool_depth:
        out.append(f"{r['day']}  {r['pool_depth_2pct_usd']:>11,.0f}  {r['pool_depth_2pct_min_usd']:>11,.0f}  "
                   f"{r['cex_depth_2pct_usd']:>12,.0f}  {r['ratio']:>6.3f}")
    return "\n".join(out)


def main(args) -> int:
    from backtest.calibration.table import calibrate, real_data_folder, render
    from backtest.lake.io import atomic_path

    cal = calibrate(real_data_folder(args.real), bootstrap=args.bootstrap, robustness=not args.no_robustness)
    if args.write:
        text = render(cal)
        with atomic_path(args.write) as tmp:
            Path(tmp).write_text(text)
        print(f"wrote {args.write}")
    print(report(cal))
    return 0
