"""Maker's parameters, typed: the Dog's (MakerParams: what a scenario's [maker] table and `--set maker.KEY`
carry) and each ilk's Clipper and Dog settings (Ilk, the ILKS table with its source, and [maker.ASSET] /
[maker.ILK] / `--set maker.ILK.KEY` over them)."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

from backtest.errors import InputError
from backtest.protocols.maker import clip
from backtest.protocols.spec import spec_table


@dataclass(frozen=True)
class Ilk:
    """One collateral type's Clipper and Dog parameters (mat and chop are in the markets table)."""
    buf: float = 1.20          # top = feed price x buf
    tail: float = 8_400.0      # seconds before a reset is needed
    cusp: float = 0.40         # price / top below which a reset is needed
    chip: float = 0.001        # keeper reward, share of tab
    tip: float = 250.0         # keeper reward, flat DAI
    dust: float = 7_500.0      # smallest vault debt, DAI
    hole: float = 40e6         # most tab this ilk may have in auctions, DAI
    curve: str = "stairstep"   # stairstep | linear | exponential
    step: float = 90.0         # stairstep: seconds between cuts
    cut: float = 0.99          # stairstep/exponential: multiplier per step (per second for exponential)
    tau: float = 7_200.0       # linear: seconds to zero

    def price(self, top: float, dur: float) -> float:
        if self.curve == "linear":
            return float(clip.linear_decrease(top, dur, self.tau))
        if self.curve == "exponential":
            return float(clip.exponential_decrease(top, dur, self.cut))
        return clip.stairstep_one(top, dur, self.cut, self.step)


# Mainnet ilks as the spells' test configuration has them after the 2025-10-30 executive spell
# (sky-ecosystem/spells-mainnet src/test/config.sol at 02592d9d: clip_buf/tail/cusp/chip/tip, calc_step
# and calc_cut of a StairstepExponentialDecrease, Dog ilk hole, Vat dust); mat and chop are the markets
# table's. The 2022-09-07 configuration (makerdao/spells-mainnet src/test/config.sol at 007c78a1) had
# other values (ETH-A: buf 1.20, tail 8,400, cusp 0.40, tip 300, hole 65M, dust 15,000): set the values
# in force for the block you study. An ilk not listed gets its asset's default ilk, else Ilk()'s values.
ILKS = {
    "ETH-A": Ilk(buf=1.10, tail=7_200.0, cusp=0.45, chip=0.001, tip=250.0, dust=7_500.0, hole=40e6, step=90.0),
    "ETH-B": Ilk(buf=1.10, tail=4_800.0, cusp=0.45, chip=0.001, tip=250.0, dust=25_000.0, hole=15e6, step=60.0),
    "ETH-C": Ilk(buf=1.10, tail=7_200.0, cusp=0.45, chip=0.001, tip=250.0, dust=3_500.0, hole=35e6, step=90.0),
    "WSTETH-A": Ilk(buf=1.10, tail=7_200.0, cusp=0.45, chip=0.001, tip=250.0, dust=7_500.0, hole=30e6, step=90.0),
    "WSTETH-B": Ilk(buf=1.10, tail=7_200.0, cusp=0.45, chip=0.001, tip=250.0, dust=3_500.0, hole=20e6, step=90.0),
    "WBTC-A": Ilk(buf=1.10, tail=7_200.0, cusp=0.45, chip=0.001, tip=250.0, dust=7_500.0, hole=10e6, step=90.0),
    "WBTC-B": Ilk(buf=1.10, tail=4_800.0, cusp=0.45, chip=0.001, tip=250.0, dust=25_000.0, hole=5e6, step=60.0),
    "WBTC-C": Ilk(buf=1.10, tail=7_200.0, cusp=0.45, chip=0.001, tip=250.0, dust=3_500.0, hole=10e6, step=90.0),
}
# The ilk a vault of this asset is in when the book does not say (its `market` names no ilk above).
DEFAULT_ILK = {"WETH": "ETH-A", "wstETH": "WSTETH-A", "WBTC": "WBTC-A"}
CURVES = ("stairstep", "linear", "exponential")
LIQUIDATIONS = ("auto", "flip", "clip")     # maker.liquidations (backtest/protocols/maker_flip/params.py uses_flip)


def ilk_name(asset: str, market: str, split: bool) -> str:
    """The ilk of a Maker reserve: its market when that names a listed ilk, or when the book holds the
    asset under several markets (several ilks of one gem, e.g. ETH-A/B/C); else the asset's default ilk
    (a lake that names the market otherwise, such as the sample), or the market itself."""
    if market in ILKS or (split and market):
        return market
    return DEFAULT_ILK.get(asset, market or asset)


@dataclass(frozen=True)
class MakerParams:
    Hole: float = 150e6           # Dog: most tab in auctions over all ilks, DAI (dog_Hole, 2025-10-30 spell)
    liquidations: str = "auto"    # auto (Cat/Flip before each ilk's switch date, backtest/protocols/maker_flip) | flip | clip
    bark_gas: float = 450_000.0   # Dog.bark + Clipper.kick
    redo_gas: float = 200_000.0

    @classmethod
    def from_spec(cls, spec: dict, reserves, source="scenario", strict: bool = False
                  ) -> tuple["MakerParams", list[Ilk]]:
        """[maker] Hole = ..., then per reserve (asset, ilk): the ilk's defaults, [maker.ASSET], then
        [maker.ILK] (`buf`, `curve` = "linear", `tau`, ...). `strict`: a [maker.X] table that names no
        asset or ilk of `reserves` and no listed ilk is refused (a typo would change nothing)."""
        known = {f.name: f.default for f in fields(cls)}
        params = cls(**spec_table(spec, "maker", known, source))
        if params.liquidations not in LIQUIDATIONS:
            raise InputError(f"maker.liquidations must be one of {', '.join(LIQUIDATIONS)}", file=source,
                             column="maker.liquidations")
        table, names = ilk_tables(spec)
        if strict:
            book = {a for a, _ in reserves} | {i for _, i in reserves}
            unknown = [k for k in names if k not in book and k not in ILKS and k not in DEFAULT_ILK]
            if unknown:
                raise InputError(f"maker.{unknown[0]}: no Maker asset or ilk of that name (the book has "
                                 f"{', '.join(sorted(book)) or 'none'}; known ilks: {', '.join(ILKS)})",
                                 file=source, column=f"maker.{unknown[0]}")
        ilk_known = {f.name: f.default for f in fields(Ilk)}
        over = {k: spec_table(table, k, ilk_known, source, "maker.") for k in names}
        ilks = []
        for asset, name in reserves:
            base = ILKS.get(name, ILKS.get(DEFAULT_ILK.get(asset, ""), Ilk()))
            ilk = replace(base, **over.get(asset, {}))
            if name != asset:
                ilk = replace(ilk, **over.get(name, {}))
            bad = ("curve", f"curve must be one of {', '.join(CURVES)}") if ilk.curve not in CURVES else undefined(ilk)
            if bad:                 # named by the table that set it: the ilk's over the asset's
                table_of = name if bad[0] in over.get(name, {}) else asset
                raise InputError(bad[1], file=source, column=f"maker.{table_of}.{bad[0]}")
            ilks.append(ilk)
        return params, ilks


def ilk_tables(spec: dict) -> tuple[dict, list[str]]:
    """A scenario's [maker] table and the names of its [maker.X] sub-tables (an asset or an ilk each)."""
    table = spec.get("maker", {}) if isinstance(spec.get("maker", {}), dict) else {}
    return table, [k for k, v in table.items() if isinstance(v, dict)]


def check_tables(spec: dict, source) -> None:
    """[maker] and each [maker.X] table refused as the run would refuse them, before the book is read: a
    scenario file when it is loaded, `--set` when it is applied (from_spec, each table over its own ilk's
    defaults, an asset's over its default ilk's). A value another [maker.Y] table could undo in the run (it
    sets the same key, or the curve that decides whether the key is read) is left to the run, which knows
    from the book which asset's table lies under which ilk's."""
    MakerParams.from_spec(spec, [], source)           # [maker] itself and every table's keys and types
    table, names = ilk_tables(spec)
    for name in names:
        try:
            MakerParams.from_spec(spec, [(name, name)], source)
        except InputError as refused:               # the curve's name, or a value undefined()
            key = refused.column.rpartition(".")[2]
            if key == "curve" or not any(key in table[n] or "curve" in table[n] for n in names if n != name):
                raise


def undefined(ilk: Ilk) -> tuple[str, str] | None:
    """(key, why) of a value the contracts cannot hold for this ilk's curve and Clipper, else None: the
    price or status would divide by zero or the `file` that sets it reverts (makerdao/dss src/abaci.sol,
    src/clip.sol). NaN fails each test."""
    if ilk.curve == "stairstep" and not ilk.step > 0.0:
        return "step", (f"step must be > 0 seconds (found {ilk.step}): abaci.sol StairstepExponentialDecrease."
                        "price divides the auction's age by it")
    if ilk.curve in ("stairstep", "exponential") and not 0.0 <= ilk.cut <= 1.0:
        return "cut", (f"cut must be between 0 and 1 (found {ilk.cut}): abaci.sol's file('cut') requires "
                       "cut <= RAY (cut-gt-RAY), and cut is unsigned")
    if not ilk.buf > 0.0:
        return "buf", (f"buf must be > 0 (found {ilk.buf}): clip.sol kick and redo require top = price x buf > 0 "
                       "(Clipper/zero-top-price), and status divides by top")
    return None
