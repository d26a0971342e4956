"""What the replay summary says of a scenario's sensitivity: the factors `backtest sensitivity` measured
(backtest/sweep/sensitivity.py) and wrote into data/sensitivity.toml, read back per scenario."""

from __future__ import annotations

from pathlib import Path

from backtest.numbers import usd

MOVES = 2.0          # a headline that moves by more than this factor across a range is flagged
MEASURED = Path(__file__).resolve().parents[2] / "data" / "sensitivity.toml"


def flagged(scenario: str, path: Path = MEASURED) -> str:
    """One line for the replay summary: where this scenario's headline moved more than MOVES x across a
    plausible range of an unobservable parameter (as measured into data/sensitivity.toml), or that it
    was not measured."""
    import tomllib
    if not path.is_file():
        return f"not measured (backtest sensitivity {scenario})"
    data = tomllib.loads(path.read_text())
    rows = data.get("scenario", {}).get(scenario)
    if not rows:
        return f"not measured for this scenario (backtest sensitivity {scenario})"
    moves, largest = [], None
    for key, r in rows.items():
        for what, f in (("bad debt", r["bad_debt_factor"]), ("liquidations", r["liquidations_factor"])):
            span = f"{r['values'][0]}..{r['values'][-1]}"
            if f < 0 or f > MOVES:
                moves.append(f"{what} {'from 0' if f < 0 else f'{f:.1f}x'} across {key} {span}")
            elif largest is None or f > largest[0]:
                largest = (f, f"{what} {f:.2f}x across {key} {span}")
    if not moves:          # the largest factor too: 1.98x and 1.05x are not the same "under 2x"
        most = f"; at most {largest[1]}" if largest else ""
        return f"no headline moves more than {MOVES:g}x across the unobservable parameters{most} ({data.get('lake', '')})"
    return "; ".join(moves) + f" -- the headline hangs on them ({data.get('lake', '')}; docs/engine.md)"


def unobservable(metrics: dict) -> list[str]:
    """Summary lines for headlines that hang on a parameter nobody can observe and the sensitivity file
    does not cover: Maker Cat/Flip's loss on its keepers' gas ceilings (whenever Cat/Flip ran)."""
    if "maker_flip_bites" not in metrics:
        return []
    return [f"  unobservable    Maker (Cat/Flip) loss {usd(metrics['maker_flip_loss_usd'])} "
            f"({metrics['maker_flip_zero_bid_auctions']:,} of {metrics['maker_flip_bites']:,} auctions at a zero "
            "bid) depends on the keepers' gas ceilings (flip.keeper_gwei, flip.keeper_gwei_scale; unobservable): see "
            "docs/protocols.md, \"Maker Liquidations 1.x\""]
