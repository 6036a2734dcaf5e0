// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";

/// @notice Pays ETH and tokens from inside a contract call, like a Safe multisig does.
/// ETH sent this way is an internal transfer: it is visible only in call traces.
contract Payer {
    using SafeERC20 for IERC20;

    error PaymentFailed(address to, uint256 value);
    error LengthMismatch();

    receive() external payable {}

    function pay(address to, uint256 value) external payable {
        (bool ok, ) = payable(to).call{value: value}("");
        if (!ok) revert PaymentFailed(to, value);
    }

    /// @notice Pays ETH and then reverts: the transfer must never be credited.
    function payThenRevert(address to, uint256 value) external payable {
        (bool ok, ) = payable(to).call{value: value}("");
        ok;
        revert PaymentFailed(to, value);
    }

    function payBatch(address[] calldata to, uint256[] calldata values) external payable {
        if (to.length != values.length) revert LengthMismatch();
        for (uint256 i = 0; i < to.length; i++) {
            (bool ok, ) = payable(to[i]).call{value: values[i]}("");
            if (!ok) revert PaymentFailed(to[i], values[i]);
        }
    }

    /// @notice A token transfer (a log) and an internal ETH transfer (a trace) in one transaction.
    function payTokenAndEth(IERC20 token, address tokenTo, uint256 amount, address ethTo)
        external
        payable
    {
        token.safeTransfer(tokenTo, amount);
        (bool ok, ) = payable(ethTo).call{value: msg.value}("");
        if (!ok) revert PaymentFailed(ethTo, msg.value);
    }

    function payToken(IERC20 token, address to, uint256 amount) external {
        token.safeTransfer(to, amount);
    }

    function payTokenBatch(IERC20 token, address[] calldata to, uint256[] calldata amounts)
        external
    {
        if (to.length != amounts.length) revert LengthMismatch();
        for (uint256 i = 0; i < to.length; i++) {
            token.safeTransfer(to[i], amounts[i]);
        }
    }
}
