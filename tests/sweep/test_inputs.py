"""The sweep's shortcut (one lake read per worker, inputs derived per task) must give exactly
what `load_inputs` gives. If an engine change breaks that, these tests say so first."""

import dataclasses

import numpy as np
import pytest

from backtest.overrides import apply_overrides
from backtest.inputs.book import load_inputs
from backtest.errors import InputError
from backtest.sweep.inputs import InputsCache, loading_key


def _same(a, b, where="inputs"):
    """Exact equality, recursing into dataclasses, plain objects (venues), containers and arrays."""
    assert type(a) is type(b), where
    if isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape, where
        assert np.array_equal(a, b, equal_nan=a.dtype.kind == "f"), where
    elif dataclasses.is_dataclass(a):
        for f in dataclasses.fields(a):
            _same(getattr(a, f.name), getattr(b, f.name), f"{where}.{f.name}")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            _same(x, y, f"{where}[{i}]")
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for k in a:
            _same(a[k], b[k], f"{where}[{k}]")
    elif hasattr(a, "__dict__") and not callable(a):
        _same(vars(a), vars(b), where)
    else:
        assert a == b, where


OVERRIDES = [
    [],
    ["liquidation_threshold.CRV=0.30"],
    ["liquidation_threshold=0.7", "liquidation_bonus.WETH=0.08"],
    ["ltv.WBTC=0.6", "close_factor=1.0", "protocol_fee.CRV=0.2"],
    ["pool_depth_scale=0.3"],
    ["pool_depth_scale=0.3", "liquidation_threshold.CRV=0.25"],
    ["oracle.deviation=0.02", "oracle.heartbeat_seconds=600", "liquidator.min_profit_usd=50",
     "liquidator.gas_units=800000", "arb_half_life_seconds=600", "block_seconds=6", "impact.scale=2"],
    ["seed=5", "feedback=false"],                   # the rest of sweep/inputs.REPLAY_ONLY
]


@pytest.mark.parametrize("overrides", OVERRIDES, ids=lambda o: ",".join(o) or "baseline")
def test_derived_inputs_equal_load_inputs_exactly(baseline, crash, overrides):
    config = apply_overrides(baseline, overrides)
    cache = InputsCache()
    cache.base(baseline, crash)
    _same(cache.inputs(config, crash), load_inputs(config, crash))


def test_one_lake_read_serves_every_parameter_that_does_not_change_loading(baseline, crash):
    cache = InputsCache()
    for overrides in OVERRIDES:
        cache.inputs(apply_overrides(baseline, overrides), crash)
    assert cache.lake_loads == 1


def test_one_cache_derives_each_configs_own_inputs_and_shares_them_between_its_paths(baseline, crash):
    # the last task's derived inputs are kept with their (loading key, market overrides, depth scale): a
    # config asked after another still gets its own (a key that left a field out would hand it another's),
    # the same config asked again the same object (so a set's paths share one book and what is kept per book)
    cache = InputsCache()
    configs = [apply_overrides(baseline, o) for o in OVERRIDES + [["emode.1.liquidation_threshold=0.95"]]]
    for config in configs + configs[::-1]:
        _same(cache.inputs(config, crash), load_inputs(config, crash))
    for config in configs:
        assert cache.inputs(config, crash) is cache.inputs(dataclasses.replace(config), crash)
    first = cache.inputs(configs[0], crash)
    assert cache.inputs(configs[1], crash).book is not first.book
    assert cache.inputs(configs[0], crash) is not first      # only the last is kept


def test_a_field_the_loader_reads_is_part_of_the_cache_key(baseline):
    # `protocol` rewrites every account's rules at load time: it must not share a cached book
    assert loading_key(apply_overrides(baseline, ["protocol=aave-v2"])) != loading_key(baseline)
    assert loading_key(apply_overrides(baseline, ["oracle.deviation=0.03"])) == loading_key(baseline)


def test_parameters_the_engine_refuses_are_refused_with_the_engines_message(baseline, crash):
    cache = InputsCache()
    config = apply_overrides(baseline, ["liquidation_threshold.CRV=0.95", "liquidation_bonus.CRV=0.10"])
    with pytest.raises(InputError, match=r"liquidation_threshold \* \(1 \+ liquidation_bonus\) > 1"):
        cache.inputs(config, crash)


def test_tasks_sharing_cached_arrays_do_not_change_them(baseline, crash):
    from backtest.sweep.tasks import SweepContext, Task
    from backtest.sweep.worker import Worker
    worker = Worker(SweepContext(scenario=crash))
    task = Task(key="k", set_id=0, path=0, config=baseline)
    first = worker.run(task)["metrics"]
    assert worker.run(task)["metrics"] == first


def test_the_table_shows_an_assets_set_value_though_its_e_mode_columns_keep_their_categorys(baseline, crash):
    from backtest.sweep.run import effective_value
    config = apply_overrides(baseline, ["liquidation_threshold.WETH=0.7"])
    inputs = load_inputs(config, crash)
    book = inputs.book
    weth = np.array(book.assets) == "WETH"
    # the sample has WETH e-mode columns (category 1, LT 0.93) beside the plain ones the --set changed
    assert set(book.liquidation_threshold[weth & (book.reserve_emode == 1)]) == {0.93}
    assert effective_value(config, "liquidation_threshold.WETH", inputs) == 0.7


@pytest.mark.parametrize("key, value, default", [
    ("flip.keeper_gwei_scale", "1.5", 1.0),          # Maker Liquidations 1.x: the scenario's [flip] table
    ("flip.ETH-A.ttl", "300", 600.0),                # an ilk's own value (FLIP_ILKS, 12 March 2020)
    ("maker.Hole", "1e8", 150e6),
    ("comet.target_reserves", "1e7", None),          # None: the default read from CometParams below
    ("impact.WETH.y", "0.5", None),                  # override tables: None where the run left it alone
    ("emode.1.liquidation_threshold", "0.95", None),
    ("oracle.WETH.heartbeat_seconds", "600", None),
])
def test_the_table_shows_the_value_of_a_protocol_or_table_key(baseline, key, value, default):
    """A sweep over `flip.keeper_gwei_scale` once wrote a column of nulls (the key is no attribute of the
    config): the results and the comparison table could not say which run was which."""
    from backtest.protocols.comet.params import CometParams
    from backtest.sweep.run import effective_value
    if key == "comet.target_reserves":
        default = CometParams.from_spec(baseline.scenario_spec).target_reserves
    assert effective_value(baseline, key, None) == default
    assert effective_value(apply_overrides(baseline, [f"{key}={value}"]), key, None) == float(value)


def test_a_list_valued_key_shows_as_its_values(baseline):
    from backtest.sweep.run import effective_value
    assert effective_value(apply_overrides(baseline, ["flip.keeper_gwei=80,120"]), "flip.keeper_gwei", None) \
        == "80.0,120.0"
