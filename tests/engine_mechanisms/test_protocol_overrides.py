"""`--set protocol=` on a book: refused where it would silently change what a parameter means."""

import pytest

from backtest.inputs.book import load_book
from backtest.run import make_config
from backtest.errors import InputError
from backtest.scenarios import load_scenario

SCENARIO = load_scenario("stylised-eth-crash")


@pytest.mark.parametrize("protocol", ["comet", "maker"])
def test_comet_and_maker_cannot_be_applied_to_every_account(small_lake, protocol):
    config = make_config(SCENARIO, small_lake, [f"protocol={protocol}"])
    with pytest.raises(InputError, match="Comet and Maker liquidate by absorb and auction"):
        load_book(small_lake, SCENARIO, config)


def test_compound_rules_over_aave_markets_need_the_seize_share_said(small_lake):
    # Aave's protocol_fee 0.10 is a share of the bonus; Compound's protocolSeizeShare is 2.8 % of all
    # seized collateral: reading one as the other would send 10 % of every seizure to reserves.
    config = make_config(SCENARIO, small_lake, ["protocol=compound-v2"])
    with pytest.raises(InputError, match=r"protocol_fee 0\.1 .*--set protocol_fee=0\.028"):
        load_book(small_lake, SCENARIO, config)
    book = load_book(small_lake, SCENARIO, make_config(SCENARIO, small_lake, ["protocol=compound-v2",
                                                                              "protocol_fee=0.028"]))
    assert set(book.protocol) == {"compound-v2"} and (book.protocol_fee == 0.028).all()
