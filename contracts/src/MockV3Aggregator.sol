// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {AggregatorV3Interface} from "./AggregatorV3Interface.sol";

/// @notice Settable Chainlink price feed for tests (after chainlink-local's MockV3Aggregator).
/// Keeps every round so getRoundData can walk history like the real aggregator proxy.
contract MockV3Aggregator is AggregatorV3Interface {
    uint8 public override decimals;
    string public override description;
    uint256 public constant override version = 4;

    uint80 public latestRound;
    mapping(uint80 => int256) public answers;
    mapping(uint80 => uint256) public startedAts;
    mapping(uint80 => uint256) public updatedAts;

    error NoDataPresent();

    constructor(uint8 decimals_, int256 initialAnswer, string memory description_) {
        decimals = decimals_;
        description = description_;
        _setRound(1, initialAnswer, block.timestamp);
    }

    /// @notice New round with the current block time.
    function updateAnswer(int256 answer) external {
        _setRound(latestRound + 1, answer, block.timestamp);
    }

    /// @notice Full control over a round (tests: stale, future, arbitrary round ids).
    function updateRoundData(uint80 roundId, int256 answer, uint256 updatedAt) external {
        _setRound(roundId, answer, updatedAt);
    }

    function setDecimals(uint8 decimals_) external {
        decimals = decimals_;
    }

    function getRoundData(uint80 roundId)
        external
        view
        override
        returns (uint80, int256, uint256, uint256, uint80)
    {
        if (updatedAts[roundId] == 0) revert NoDataPresent();
        return (roundId, answers[roundId], startedAts[roundId], updatedAts[roundId], roundId);
    }

    function latestRoundData()
        external
        view
        override
        returns (uint80, int256, uint256, uint256, uint80)
    {
        uint80 r = latestRound;
        return (r, answers[r], startedAts[r], updatedAts[r], r);
    }

    function _setRound(uint80 roundId, int256 answer, uint256 updatedAt) private {
        latestRound = roundId;
        answers[roundId] = answer;
        startedAts[roundId] = updatedAt;
        updatedAts[roundId] = updatedAt;
    }
}
