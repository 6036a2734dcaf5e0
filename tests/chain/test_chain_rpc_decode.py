"""RpcClient's answer decoding (pydantic-core's parser, one read of the body) gives what the
standard library's ``json`` gives, and says clearly when an answer is not JSON."""

from __future__ import annotations

import json

import pytest
from paybridge_connectors.chain.rpc import _Provider

ANSWER = {
    "jsonrpc": "2.0",
    "id": 7,
    "result": [
        {
            "address": "0x5fbdb2315678afecb367f032d93f642f64180aa3",
            "topics": ["0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef"],
            "data": "0x" + "f" * 64,
            "removed": False,
            "blockTimestamp": None,
            "big": 2**255 + 1,
            "text": "caf\u00e9 \u20ac",
        }
    ],
}


def test_decoded_as_the_standard_library_decodes() -> None:
    raw = json.dumps(ANSWER).encode()
    assert _Provider.decode_rpc_response(raw) == json.loads(raw)


def test_batch_answer_is_a_list() -> None:
    raw = json.dumps([ANSWER, {**ANSWER, "id": 8}]).encode()
    assert _Provider.decode_rpc_response(raw) == json.loads(raw)


def test_invalid_json_names_the_answer() -> None:
    with pytest.raises(ValueError, match=r"not valid JSON.*<html>"):
        _Provider.decode_rpc_response(b"<html>502 Bad Gateway</html>")
