"""What every actor sees in one block (one cascade round of the replay loop).

Liquidators, Comet's absorbers and buyers and Maker's keepers all act on the same oracle prices,
parameters in force and gas price within a block; the loop builds one Round per block and hands
it to each (backtest/engine/replay.py, reference.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from backtest.protocols.rules import Params


@dataclass(frozen=True)
class Round:
    step: int                 # path step
    now: float                # seconds since the path's start
    block: int                # block (round) within the step
    price: np.ndarray         # [R] oracle price per reserve column (its protocol's feed)
    lt: np.ndarray            # [R] liquidation thresholds in force
    params: Params            # bonus, protocol fee, close factor in force
    gas_usd_per_unit: float   # USD per gas unit at this step's gas price
    block_seconds: float      # a block's length: an auction's or a purchase's age in blocks is its seconds over it
