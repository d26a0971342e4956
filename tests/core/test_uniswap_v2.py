"""Constant-product swaps against UniswapV2Library's formula with its 0.3 % fee."""

import pytest

from backtest.markets import uniswap_v2


def test_amount_out_follows_the_997_over_1000_formula():
    # 10 in, reserves 1,000 / 1,000: 10*997*1000 / (1000*1000 + 10*997) = 9,970,000 / 1,009,970
    assert uniswap_v2.amount_out(10.0, 1000.0, 1000.0) == pytest.approx(9_970_000 / 1_009_970, rel=1e-15)


def test_exact_amount_out_rounds_down_like_the_contract():
    assert uniswap_v2.get_amount_out_exact(10, 1000, 1000) == 9   # 9.87.. floored
    assert uniswap_v2.get_amount_out_exact(10**18, 100 * 10**18, 200_000 * 10**6) == 1_974_316_068


def test_amount_in_is_the_inverse_of_amount_out():
    out = uniswap_v2.amount_out(123.0, 5_000.0, 7_000.0)
    assert uniswap_v2.amount_in(out, 5_000.0, 7_000.0) == pytest.approx(123.0, rel=1e-12)


def test_exact_amount_in_buys_at_least_the_amount_out():
    need = uniswap_v2.get_amount_in_exact(1_000, 1_000_000, 2_000_000)
    assert uniswap_v2.get_amount_out_exact(need, 1_000_000, 2_000_000) >= 1_000
    assert uniswap_v2.get_amount_out_exact(need - 1, 1_000_000, 2_000_000) < 1_000


def test_an_output_larger_than_the_reserve_cannot_be_bought():
    assert uniswap_v2.amount_in(1000.0, 10.0, 1000.0) == float("inf")


def test_arbitrage_to_a_price_keeps_k():
    base, quote = uniswap_v2.reserves_at_price(1000.0, 2_000_000.0, 1500.0)
    assert base * quote == pytest.approx(2e9, rel=1e-12)
    assert quote / base == pytest.approx(1500.0, rel=1e-12)
