-- Chainlink price path: one row per AnswerUpdated of every feed in the lake, in chain order
-- (AggregatorInterface: AnswerUpdated(int256 indexed current, uint256 indexed roundId, uint256 updatedAt);
-- smartcontractkit/chainlink contracts/src/v0.8/shared/interfaces/AggregatorInterface.sol).
-- `feed` is the proxy when the aggregator was found through one, else the aggregator itself.
-- round_id is the aggregator's; proxy_round_id is what the proxy's getRoundData calls it,
-- phaseId << 64 | aggregator round (EACAggregatorProxy / AggregatorProxy.addPhase), when the phase is known.
SELECT
    c.asset AS feed,
    a.contract_address AS aggregator,
    c.symbol AS description,
    c.decimals,
    a.evt_block_number AS block_number,
    a.evt_index,
    a.roundId AS round_id,
    (c.phase::HUGEINT * 18446744073709551616 + a.roundId::HUGEINT)::VARCHAR AS proxy_round_id,
    a.current AS answer_raw,
    a.current::HUGEINT / 10::DOUBLE ** coalesce(c.decimals, 8) AS answer,
    to_timestamp(a.updatedAt::BIGINT) AS updated_at
FROM chainlink_feed_answer_updated a
JOIN contracts c ON c.source = 'chainlink' AND c.kind = 'feed' AND c.address = a.contract_address
ORDER BY feed, block_number, evt_index
