// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

/// @notice A Chainlink-style price feed for local chains. Unlike Chainlink's MockV3Aggregator it
/// emits the aggregator events AnswerUpdated and NewRound, so an indexer sees what it sees on mainnet.
/// Interface: AggregatorInterface + AggregatorV3Interface (smartcontractkit/chainlink, contracts/src/v0.8/shared/interfaces).
contract PriceFeed {
    event AnswerUpdated(int256 indexed current, uint256 indexed roundId, uint256 updatedAt);
    event NewRound(uint256 indexed roundId, address indexed startedBy, uint256 startedAt);

    uint8 public immutable decimals;
    string public description;
    uint256 public constant version = 4;
    address public immutable owner;

    uint256 public latestRound;
    mapping(uint256 => int256) public getAnswer;
    mapping(uint256 => uint256) public getTimestamp;

    constructor(uint8 decimals_, string memory description_, int256 initialAnswer) {
        decimals = decimals_;
        description = description_;
        owner = msg.sender;
        _update(initialAnswer);
    }

    function updateAnswer(int256 answer) external {
        require(msg.sender == owner, "PriceFeed: not owner");
        _update(answer);
    }

    function _update(int256 answer) internal {
        uint256 round = latestRound + 1;
        latestRound = round;
        getAnswer[round] = answer;
        getTimestamp[round] = block.timestamp;
        emit NewRound(round, msg.sender, block.timestamp);
        emit AnswerUpdated(answer, round, block.timestamp);
    }

    function latestAnswer() external view returns (int256) {
        return getAnswer[latestRound];
    }

    function latestTimestamp() external view returns (uint256) {
        return getTimestamp[latestRound];
    }

    function getRoundData(uint80 roundId)
        public view returns (uint80, int256, uint256, uint256, uint80)
    {
        require(roundId != 0 && roundId <= latestRound, "PriceFeed: no data");
        uint256 t = getTimestamp[roundId];
        return (roundId, getAnswer[roundId], t, t, roundId);
    }

    function latestRoundData() external view returns (uint80, int256, uint256, uint256, uint80) {
        return getRoundData(uint80(latestRound));
    }
}
