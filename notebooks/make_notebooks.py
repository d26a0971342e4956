"""Write the notebooks of this folder from the cell text below, with no outputs.

The .ipynb files are generated so that their diffs stay readable and outputs never reach git:
edit here, run `python notebooks/make_notebooks.py`, commit both. tests/notebooks checks that the
committed files are what this script writes, and runs each one top to bottom with papermill.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent
KERNEL = {"display_name": "Python 3", "language": "python", "name": "python3"}


def md(text: str):
    return new_markdown_cell(text.strip())


def code(text: str, parameters: bool = False):
    cell = new_code_cell(text.strip())
    if parameters:
        cell.metadata["tags"] = ["parameters"]
    return cell


REPLAY = [
    md("""
# Replay a crash and look at the cascade

Runs one crash scenario over a lake's book, then looks inside the cascade: which round each
liquidation belonged to, what moved the price between rounds, and what was left as bad debt.
With the default parameters it uses the shipped sample lake, which is **SYNTHETIC** (made by
`backtest sample-data`): the numbers show how the tool works, not what a real market did.
"""),
    code("""
# Parameters: papermill can override every one of these.
# lake: a lake folder, from `backtest sample-data` or your own
lake = "../data/lake"
# scenario: a name from `backtest scenarios`, or a .toml path
scenario = "stylised-eth-crash"
# overrides: parameters to change, as `--set` takes them, for example {"liquidation_threshold.CRV": 0.35}
overrides = {}
# out: the results folder this notebook writes
out = "../results/notebook-crash"
""", parameters=True),
    code("""
from pathlib import Path

from IPython.display import SVG, display

import backtest as bt
from backtest.report import figures, write_report
from backtest.report.results import load_results

run = bt.replay(scenario, lake=lake, set=overrides)
run.save(out)
print(run.summary())
"""),
    md("""
## The price paths

The exogenous path is the scenario; the AMM pool is where liquidators sell what they seize;
the oracle is what the protocol reads. Triangles are liquidations, coloured by cascade round.
"""),
    code("""
results = load_results(Path(out))
liq, steps, depth = results.liquidations, results.steps, results.metrics["cascade_rounds"]
display(SVG(figures.to_svg(figures.price_paths(steps, liq, depth))))
"""),
    md("""
## Inside the cascade

Round 0 is what the exogenous move made liquidatable; round k+1 is what became liquidatable only
because round k's sales moved the pools (and the oracle followed).
"""),
    code("""
by_round = liq.groupby("round").agg(liquidations=("account", "size"), accounts=("account", "nunique"),
                                    seized_usd=("collateral_seized_usd", "sum"), profit_usd=("profit_usd", "sum"))
by_round
"""),
    code("""
# The step whose cascade went deepest, liquidation by liquidation
deepest = int(liq.groupby("step")["round"].max().idxmax()) if len(liq) else 0
columns = ["round", "protocol", "account", "collateral_asset", "collateral_seized_usd", "debt_asset",
           "debt_repaid_usd", "health_factor_before", "health_factor_after"]
liq[liq["step"] == deepest][columns].head(30)
"""),
    code("""
# At that step: how far each pool sat below the exogenous price, and what was sold into it
at = steps[steps["step"] == deepest].set_index("asset")
(at.assign(pool_discount=at["price_amm"] / at["price_exogenous"] - 1)
   [["price_exogenous", "price_amm", "price_oracle", "pool_discount", "sold_usd"]].dropna())
"""),
    code("""
display(SVG(figures.to_svg(figures.liquidations_over_time(liq, depth, figures.step_times(steps)))))
"""),
    md("""
## Bad debt, and the report

Bad debt is Σ over accounts of max(0, debt − collateral) at the oracle. The HTML report has every
figure of this notebook and the health factors before and after; `report.md` is the forum summary.
"""),
    code("""
display(SVG(figures.to_svg(figures.bad_debt(steps, None))))
html, summary_md = write_report(Path(out))
print(html, summary_md, sep="\\n")
"""),
]


COMPARE = [
    md("""
# Compare two parameter sets

Replays the same crash under the current parameters and under a candidate set (the kind of change
a risk steward proposes), then puts the two side by side. For many sets or many paths use
`backtest sweep` and open its folder with `backtest report`. The default lake is the **SYNTHETIC** sample.
"""),
    code("""
# Parameters. baseline and candidate: what each side changes, with the keys `--set` takes;
# an empty baseline is the lake's own parameters.
lake = "../data/lake"
scenario = "stylised-eth-crash"
baseline = {}
candidate = {"liquidation_threshold.CRV": 0.35, "liquidation_bonus.CRV": 0.10}
out = "../results/notebook-compare"
""", parameters=True),
    code("""
from pathlib import Path

from IPython.display import SVG, Markdown, display

import backtest as bt
from backtest.report import figures, tables, write_report
from backtest.report.results import load_results

folders = {name: bt.replay(scenario, lake=lake, set=changes).save(Path(out) / name)
           for name, changes in (("baseline", baseline), ("candidate", candidate))}
runs = {name: load_results(folder) for name, folder in folders.items()}
"""),
    code("""
tables.parameter_diff(list(runs), [r.config for r in runs.values()])
"""),
    code("""
tables.comparison(list(runs), [r.metrics for r in runs.values()])
"""),
    code("""
display(SVG(figures.to_svg(figures.compare_paths([(n, r.steps, r.liquidations) for n, r in runs.items()]))))
"""),
    code("""
# Where the difference comes from: collateral seized per asset under each set
import pandas as pd
pd.DataFrame({n: r.liquidations.groupby("collateral_asset")["collateral_seized_usd"].sum()
              for n, r in runs.items()}).fillna(0.0)
"""),
    md("""
## The write-up

One HTML file with both runs, and the Markdown summary to paste into a forum post.
"""),
    code("""
html, summary_md = write_report(folders["baseline"], compare=[folders["candidate"]],
                                out=Path(out) / "comparison.html")
display(Markdown(summary_md.read_text()))
"""),
]


BYOD = [
    md("""
# Bring your own data: CSV, cryo, RPC

A lake is a folder of Parquet files, one sub-folder per table (`positions`, `markets`, `prices`,
`pools`, `gas`, `logs`, ...). This notebook fills one from your own files:

* **CSV** (a Dune export, a spreadsheet): read, checked against the lake schema, written atomically;
* **cryo** dumps of `logs`: the lake's `logs` table *is* cryo's schema, so the files are read as they are;
* **RPC**: `backtest ingest` fetches a protocol's logs from any JSON-RPC node, `backtest snapshot`
  rebuilds positions from them.

With no files given, the CSV part uses the sample lake's own tables written out as CSV, to stand in
for yours (the sample is **SYNTHETIC**); the cryo and RPC parts run only when given a folder or a URL.
"""),
    code("""
# Parameters. An empty string skips that source.
# csv_dir: a folder with markets.csv, positions.csv, prices.csv, pools.csv and gas.csv;
# empty: stand-ins written from sample_lake
csv_dir = ""
sample_lake = "../data/lake"
# lake: the lake this notebook writes
lake = "../results/byod-lake"
# cryo_dir: a folder of cryo logs Parquet files
cryo_dir = ""
# rpc_url: a JSON-RPC endpoint; rpc_source: the protocol whose logs `backtest ingest` fetches
rpc_url = ""
rpc_source = "aave-v3"
from_block = 0
to_block = 0
""", parameters=True),
    code("""
import shutil
from pathlib import Path

import pyarrow.csv as pacsv

from backtest.cli import main as backtest
from backtest.errors import InputError
from backtest.lake.io import read_table, table_files, write_table
from backtest.lake.schemas import SCHEMAS

lake_path = Path(lake)
if lake_path.exists():
    shutil.rmtree(lake_path)
source = Path(csv_dir) if csv_dir else lake_path.parent / "byod-csv"
if not csv_dir:                          # stand-ins: the sample's tables as plain CSV
    source.mkdir(parents=True, exist_ok=True)
    for name in SCHEMAS:
        if table_files(Path(sample_lake), name):
            pacsv.write_csv(read_table(Path(sample_lake), name), source / f"{name}.csv")
TABLES = [name for name in SCHEMAS if (source / f"{name}.csv").exists()]
TABLES
"""),
    md("""
## CSV into the lake

`write_table` casts each column to the lake schema, checks the values (no negative balances, no NaN
prices, ...) and writes atomically. A bad file stops with one line naming the file, column and row.
"""),
    code("""
for name in TABLES:
    table = pacsv.read_csv(source / f"{name}.csv")
    write_table(lake_path, name, table)
    print(f"{name:10s} {table.num_rows:8,} rows")
# Order-book depth curves are not a CSV table (docs/markets.md): copied as they are, if the sample has them.
if not csv_dir and (Path(sample_lake) / "depth_curves").is_dir():
    shutil.copytree(Path(sample_lake) / "depth_curves", lake_path / "depth_curves")
"""),
    code("""
# What a bad row looks like: a negative collateral balance in row 3
bad = pacsv.read_csv(source / "positions.csv").slice(0, 5).to_pylist()
bad[2]["collateral"] = -1.0
import pyarrow as pa
try:
    write_table(lake_path.parent / "scratch-lake", "positions", pa.Table.from_pylist(bad))
except InputError as exc:
    print("refused:", exc)
"""),
    md("""
## cryo dumps

`cryo logs --blocks 16M:17M --contract 0x87870bca3f3fd6335c3f4ce8392d69350b4fa4e2 --output-dir DIR`
writes files the lake reads as they are: copy them into `<lake>/logs/`, or read them in place.
"""),
    code("""
if cryo_dir:
    from IPython.display import display
    from backtest.ingest.logs import read_logs
    from backtest.lake.catalog import connect
    logs = read_logs(Path(cryo_dir))
    con = connect(None, extra={"cryo_logs": logs})
    display(con.sql("SELECT address, topic0, count(*) AS logs FROM cryo_logs GROUP BY ALL ORDER BY logs DESC LIMIT 20").df())
else:
    print("no cryo_dir given: skipped")
"""),
    md("""
## From an RPC node

`backtest ingest` pages `eth_getLogs` over adaptive block ranges with retries and checkpoints
(a rerun fetches only what is missing); `backtest snapshot --block N` rebuilds the book from the events.
"""),
    code("""
if rpc_url:
    assert backtest(["ingest", "--rpc", rpc_url, "--source", rpc_source, "--from-block", str(from_block),
                     "--to-block", str(to_block), "--lake", str(lake_path)]) == 0
    assert backtest(["snapshot", "--block", str(to_block), "--lake", str(lake_path), "--rpc", rpc_url]) == 0
else:
    print("no rpc_url given: skipped (example: backtest ingest --rpc $ETH_RPC_URL --source aave-v3 "
          "--from-block 16291127 --to-block 16300000 --lake mylake)")
"""),
    md("""
## Use it

The new lake works with every command: the health-factor distribution by SQL, then a replay.
"""),
    code("""
import backtest as bt
bt.query("health_distribution", lake=lake_path)
"""),
    code("""
assert backtest(["replay", "--lake", str(lake_path), "--out", str(lake_path.parent / "byod-replay")]) == 0
"""),
]


NOTEBOOKS = {
    "01-replay-a-crash.ipynb": REPLAY,
    "02-compare-parameter-sets.ipynb": COMPARE,
    "03-bring-your-own-data.ipynb": BYOD,
}


def build(name: str) -> str:
    nb = new_notebook(cells=NOTEBOOKS[name], metadata={"kernelspec": KERNEL, "language_info": {"name": "python"}})
    for i, cell in enumerate(nb.cells):     # stable ids: the same text gives the same file
        cell["id"] = f"{Path(name).stem[:2]}-{i:02d}"
    nbformat.validate(nb)
    return nbformat.writes(nb) + "\n"


def main(folder: Path = HERE) -> int:
    for name in NOTEBOOKS:
        (folder / name).write_text(build(name))
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE))
