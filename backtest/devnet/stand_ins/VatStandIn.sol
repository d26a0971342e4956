// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

/// @notice A test stand-in for Maker's Vat, NOT mainnet bytecode (none is on npm). Like the real Vat
/// (makerdao/dss src/vat.sol) every state-changing call is logged as an anonymous DSNote: topic0 the
/// selector left-aligned, topics 1-3 the first three calldata words, data the ABI bytes of the first
/// 224 bytes of calldata. It keeps urns (ink, art), ilks (Art, rate, spot, line, dust), gem, dai, sin and
/// debt with the Vat's frob/grab/fork/fold arithmetic; the safety checks of frob are left out.
contract VatStandIn {
    struct Ilk { uint256 Art; uint256 rate; uint256 spot; uint256 line; uint256 dust; }
    struct Urn { uint256 ink; uint256 art; }

    mapping(bytes32 => Ilk) public ilks;
    mapping(bytes32 => mapping(address => Urn)) public urns;
    mapping(bytes32 => mapping(address => int256)) public gem;     // signed: the stand-in has no join adapters
    mapping(address => int256) public dai;
    mapping(address => int256) public sin;
    int256 public debt;
    int256 public vice;

    modifier note {
        _;
        assembly {
            let p := mload(0x40)
            mstore(p, 0x20)                                   // offset of the bytes value
            mstore(add(p, 0x20), 224)                         // its length
            calldatacopy(add(p, 0x40), 0, 224)                // calldata, zero-padded past its end
            log4(p, 288, shl(224, shr(224, calldataload(0))), calldataload(4), calldataload(36), calldataload(68))
        }
    }

    function _add(uint256 x, int256 y) internal pure returns (uint256) {
        return y >= 0 ? x + uint256(y) : x - uint256(-y);
    }

    function init(bytes32 ilk) external note {
        require(ilks[ilk].rate == 0, "Vat/ilk-already-init");
        ilks[ilk].rate = 10 ** 27;
    }

    function frob(bytes32 i, address u, address v, address w, int256 dink, int256 dart) external note {
        Ilk storage ilk = ilks[i];
        require(ilk.rate != 0, "Vat/ilk-not-init");
        Urn storage urn = urns[i][u];
        urn.ink = _add(urn.ink, dink);
        urn.art = _add(urn.art, dart);
        ilk.Art = _add(ilk.Art, dart);
        int256 dtab = int256(ilk.rate) * dart;
        gem[i][v] -= dink;
        dai[w] += dtab;
        debt += dtab;
    }

    function grab(bytes32 i, address u, address v, address w, int256 dink, int256 dart) external note {
        Urn storage urn = urns[i][u];
        Ilk storage ilk = ilks[i];
        urn.ink = _add(urn.ink, dink);
        urn.art = _add(urn.art, dart);
        ilk.Art = _add(ilk.Art, dart);
        int256 dtab = int256(ilk.rate) * dart;
        gem[i][v] -= dink;
        sin[w] -= dtab;
        vice -= dtab;
    }

    function fork(bytes32 ilk, address src, address dst, int256 dink, int256 dart) external note {
        Urn storage u = urns[ilk][src];
        Urn storage v = urns[ilk][dst];
        u.ink = _add(u.ink, -dink);
        u.art = _add(u.art, -dart);
        v.ink = _add(v.ink, dink);
        v.art = _add(v.art, dart);
    }

    function fold(bytes32 i, address u, int256 rate) external note {
        Ilk storage ilk = ilks[i];
        ilk.rate = _add(ilk.rate, rate);
        int256 rad = int256(ilk.Art) * rate;
        dai[u] += rad;
        debt += rad;
    }
}
