"""The named SQL queries of queries/: what each needs before it runs, and running it with one-line errors.

A query's parameters are its `$name` placeholders (and `?` positional ones), read from the SQL with
comments and string literals removed; it needs a replay's results folder when it reads `liquidations`
or `steps`. `backtest query` and `bt.query` both come through here: a missing parameter, results
folder, lake or lake table is refused in one line naming it and the command that fills it, before
DuckDB sees the SQL. This module imports DuckDB only inside `run` so `backtest query --help` is fast.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from backtest.errors import InputError, closest
from backtest.ingest.addresses import DEFAULT_KIND

QUERIES = Path(__file__).resolve().parents[1] / "queries"
RESULT_TABLES = ("liquidations", "steps")
# A table one query reads that another query makes: aave_account_data_at_block reads the output of
# aave_v{2,3}_positions_at_block at the same block (backtest.ingest.positions.account_data), so it
# takes that query's block time too.
STAGED = {"aave_positions_raw": ("ts",)}
# Chain tables are named <source>_<contract>_<event> (backtest.ingest.events); these are the sources.
CHAIN_SOURCES = tuple(DEFAULT_KIND)
SNAPSHOT = "`backtest snapshot --block N` (after `backtest ingest`), or `backtest sample-data`"
FILLS = {
    "prices": "`backtest import-prices FILE` or `backtest fetch-prices ASSET --from DATE --to DATE`",
    "positions": SNAPSHOT, "markets": SNAPSHOT, "pools": SNAPSHOT, "pool_ticks": SNAPSHOT,
    "emode_categories": SNAPSHOT,
    "gas": "`backtest sample-data` (the sample's gas; no gas importer yet)",
    "depth_curves": "`backtest sample-data` (the sample's curves)",
    "contracts": "`backtest ingest --source SOURCE ...`", "blocks": "`backtest ingest --source SOURCE ...`",
    "lending_borrow": "`backtest ingest --dune borrows.csv`", "lending_supply": "`backtest ingest --dune supplies.csv`",
}

_COMMENT = re.compile(r"--[^\n]*")
_STRING = re.compile(r"'(?:[^']|'')*'")
_PARAM = re.compile(r"\$([A-Za-z_]\w*)")
_TABLE = re.compile(r"\b(?:FROM|JOIN)\s+([A-Za-z_]\w*)\b(?!\s*\()", re.I)
_CTE = re.compile(r"\b([A-Za-z_]\w*)\s+AS\s*(?:MATERIALIZED\s*)?\(", re.I)


@dataclass(frozen=True)
class QuerySpec:
    name: str
    title: str                    # the SQL's first comment line
    params: tuple[str, ...]       # `$name` placeholders, in order of first use
    positional: int               # `?` placeholders
    tables: tuple[str, ...]       # lake or results tables it reads (views of other queries expanded)

    @property
    def needs_results(self) -> bool:
        return any(t in RESULT_TABLES for t in self.tables)

    @property
    def lake_tables(self) -> tuple[str, ...]:
        return tuple(t for t in self.tables if t not in RESULT_TABLES)

    def usage(self) -> str:
        """`--param block=N --param ts=N` as the command line wants them."""
        words = [f"--param {p}=..." for p in self.params] + [f"--param {i + 1}=..." for i in range(self.positional)]
        if self.needs_results:
            words.append("--results RUN_DIR")
        return " ".join(words)


def _code(sql: str) -> str:
    """The SQL without comments and string literals (a `$x` in either is not a placeholder)."""
    return _STRING.sub("''", _COMMENT.sub("", sql))


def names() -> list[str]:
    return sorted(p.stem for p in QUERIES.glob("*.sql"))


def spec(name: str, _seen: tuple[str, ...] = ()) -> QuerySpec:
    path = QUERIES / f"{name}.sql"
    if not path.exists():
        raise InputError(f"no query named {name!r}{closest(name, names())} (`backtest query --help` lists them)",
                         file=QUERIES)
    sql = path.read_text()
    code = _code(sql)
    params = tuple(dict.fromkeys(_PARAM.findall(code)))
    ctes = {m.lower() for m in _CTE.findall(code)}
    tables: list[str] = []
    for table in _TABLE.findall(code):
        t = table.lower()
        if t in ctes or t in tables:
            continue
        if (QUERIES / f"{t}.sql").exists() and t not in _seen + (name,):
            tables += [u for u in spec(t, _seen + (name,)).tables if u not in tables]
        elif t in STAGED:
            params += tuple(p for p in STAGED[t] if p not in params)
        else:
            tables.append(t.removeprefix("imported_"))
    title = next((line.lstrip("- ").strip() for line in sql.splitlines() if line.startswith("--")), "")
    return QuerySpec(name, title, params, code.count("?"), tuple(tables))


def help_text() -> str:
    """The list `backtest query --help` shows: each query with its parameters and --results."""
    rows = [(s.name, s.usage() or "(no parameters)") for s in map(spec, names())]
    width = max(len(n) for n, _ in rows)
    return "\n".join(f"  {n.ljust(width)}  {u}" for n, u in rows)


def fill_command(table: str) -> str:
    if table in FILLS:
        return FILLS[table]
    for source in CHAIN_SOURCES:
        if table.startswith(source.replace("-", "_") + "_"):
            return f"`backtest ingest --source {source} ...`"
    return "`backtest ingest`"


def value(text: str):
    """A --param value as DuckDB should see it: an integer, a number, else the text."""
    for kind in (int, float):
        try:
            return kind(text.replace("_", "")) if kind is int else kind(text)
        except ValueError:
            pass
    return text


def parse_params(pairs: list[str]) -> dict[str, object]:
    """['block=16300000', 'source=aave-v3'] -> {'block': 16300000, 'source': 'aave-v3'}."""
    out = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not key.strip():
            raise InputError(f"--param {pair!r}: expected KEY=VALUE, e.g. block=16300000")
        out[key.strip()] = value(text.strip())
    return out


def bind(s: QuerySpec, params: dict[str, object]):
    """The values DuckDB binds: a dict for `$name`, a list for `?`; every placeholder given, nothing extra."""
    known = set(s.params) | {str(i + 1) for i in range(s.positional)}
    extra = [k for k in params if k not in known]
    if extra:
        has = ", ".join(sorted(known)) or "none"
        raise InputError(f"query {s.name} has no parameter {extra[0]!r}{closest(extra[0], known)} "
                         f"(its parameters: {has})")
    missing = [p for p in known if p not in params]
    if missing:
        missing.sort(key=lambda p: (s.params + tuple(str(i + 1) for i in range(s.positional))).index(p))
        raise InputError(f"query {s.name} needs {', '.join(missing)}: add "
                         + " ".join(f"--param {p}=..." for p in missing) + (f" ({s.title})" if s.title else ""))
    if s.positional:
        return [params[str(i + 1)] for i in range(s.positional)]
    return {k: params[k] for k in s.params}


def _present(lake: Path, table: str) -> bool:
    return any(not p.name.startswith(".") for p in (Path(lake) / table).glob("*.parquet"))


def check(s: QuerySpec, lake: Path, results: Path | None) -> None:
    """Refuse, in one line with the fix, a query that cannot give a meaningful answer here."""
    if s.needs_results and results is None:
        reads = ", ".join(t for t in s.tables if t in RESULT_TABLES)
        raise InputError(f"query {s.name} reads a replay's results ({reads}): add --results RUN_DIR "
                         "(a folder written by `backtest replay`)")
    if results is not None and not Path(results).is_dir():
        raise InputError("results folder does not exist (write one with `backtest replay --out DIR`)", file=results)
    if not Path(lake).is_dir():
        raise InputError("lake folder does not exist: pass --lake DIR or set $BACKTEST_LAKE "
                         "(`backtest sample-data` writes the sample to data/lake)", file=lake)
    lake_tables = s.lake_tables
    if lake_tables and not any(_present(lake, t) for t in lake_tables):
        fills = list(dict.fromkeys(fill_command(t) for t in lake_tables))
        if len(fills) > 1:                     # a named source says more than "SOURCE"
            fills = [f for f in fills if "SOURCE" not in f]
        shown = ", ".join(lake_tables[:3]) + (f" and {len(lake_tables) - 3} more" if len(lake_tables) > 3 else "")
        raise InputError(f"query {s.name} reads tables this lake does not have ({shown}): "
                         f"fill them with {' or '.join(fills)}", file=lake)


def run(name: str, lake: Path, results: Path | None = None, params: dict | None = None):
    """queries/NAME.sql over the lake (and a results folder) -> a pyarrow Table, or one-line InputError."""
    s = spec(name)
    values = bind(s, dict(params or {}))
    check(s, Path(lake), results)
    import duckdb

    from backtest.ingest.tables import connect_chain
    from backtest.lake.catalog import connect
    # Over a results folder: its tables; over a lake: also the decoded chain tables and their UDFs.
    con = connect(lake, results=results) if results is not None else connect_chain(lake)
    try:
        if name == "aave_account_data_at_block":                          # STAGED
            from backtest.ingest.positions import POSITION_QUERIES, account_data
            if values["source"] not in POSITION_QUERIES:
                raise InputError(f"query {name}: source must be one of {', '.join(POSITION_QUERIES)} "
                                 f"(got {values['source']!r})")
            return account_data(con, values["source"], values["block"], values["ts"])
        if name == "morpho_blue_positions_at_block":     # reads morpho_blue_markets_at_block at the same block
            from backtest.ingest.morpho_blue import raw_positions
            return raw_positions(con, values["block"])
        return con.sql((QUERIES / f"{name}.sql").read_text(), params=values).to_arrow_table()
    except duckdb.Error as exc:
        shown = ", ".join(f"{k}={v!r}" for k, v in (params or {}).items())
        raise InputError(f"query {name} failed: {str(exc).splitlines()[0]}"
                         + (f" (with {shown})" if shown else ""), file=QUERIES / f"{name}.sql") from None
