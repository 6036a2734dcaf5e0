// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

/// @notice On receiving ETH, forwards a fixed share of it to another address in the same
/// transaction. Installed (anvil_setCode) at a deposit address in tests: one transaction then
/// carries a top-level value to that deposit and an internal transfer to another one.
contract ForwardOnReceive {
    error ForwardFailed(address to, uint256 value);

    address payable public immutable to;
    uint256 public immutable share;

    constructor(address payable to_, uint256 share_) {
        to = to_;
        share = share_;
    }

    receive() external payable {
        (bool ok, ) = to.call{value: share}("");
        if (!ok) revert ForwardFailed(to, share);
    }
}
