"""Golden bytes of every message type, and pydantic <-> client-dict round trips.

The hex strings below are the wire body (canonical msgpack, keys sorted) of the
fixed examples in ``samples.py``. A change here is a wire-format change: bump
PROTOCOL_VERSION or make it compatible, and update docs/protocol.md.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pydantic
import pytest

from batos_core.protocol import builders
from batos_core.protocol.messages import (
    REPLY_TYPE,
    ErrorReply,
    SendRequest,
    StatusRequest,
    dump_message,
    parse_daemon_message,
    parse_request,
)
from batos_core.protocol.wire import decode_body, encode_body

from .samples import DAEMON_MESSAGES, REQUESTS, RID

GOLDEN: dict[str, str] = {
    "send_request": (
        "86a46172677398a762616c616e636564cb4004000000000000c0c3c40200ff9201a16181a16ba176"
        "a26964d9203566306336613965326237643465316638613363396430623165326633613462a87265"
        "636569766572a767656e65736973a6726576696577c2a873656c6563746f72ae736574536c6f745f"
        "76616c75655fa474797065ac73656e645f72657175657374"
    ),
    "eval_request": (
        "84a26964d9203566306336613965326237643465316638613363396430623165326633613462a673"
        "6f75726365bd78203a3d2067656e6573697320636c6f6e652e20782062616c616e6365a474797065"
        "ac6576616c5f72657175657374a97661726961626c657381a17982a424726566a430783161a47265"
        "7072ae3c6163636f756e7420307831613e"
    ),
    "inspect_request": (
        "83a26964d9203566306336613965326237643465316638613363396430623165326633613462a674"
        "6172676574a430783161a474797065af696e73706563745f72657175657374"
    ),
    "get_full_state_request": (
        "83a26964d9203566306336613965326237643465316638613363396430623165326633613462a674"
        "6172676574a767656e65736973a474797065b66765745f66756c6c5f73746174655f726571756573"
        "74"
    ),
    "complete_request": (
        "84a26964d9203566306336613965326237643465316638613363396430623165326633613462a670"
        "7265666978a367656ea87265636569766572a0a474797065b0636f6d706c6574655f726571756573"
        "74"
    ),
    "create_method_request": (
        "86a26964d9203566306336613965326237643465316638613363396430623165326633613462aa70"
        "726f76656e616e636580a873656c6563746f72a7646f75626c655fa6736f75726365d92764656620"
        "646f75626c655f2873656c662c206e293a0a2020202072657475726e2032202a206e0aa674617267"
        "6574a767656e65736973a474797065b56372656174655f6d6574686f645f72657175657374"
    ),
    "history_request": (
        "86a26964d9203566306336613965326237643465316638613363396430623165326633613462ae69"
        "6e636c7564655f736f75726365c2a56c696d697432a873656c6563746f72a0a6746172676574a0a4"
        "74797065af686973746f72795f72657175657374"
    ),
    "source_request": (
        "85a26964d9203566306336613965326237643465316638613363396430623165326633613462a873"
        "656c6563746f72a7646f75626c655fa6746172676574a767656e65736973a474797065ae736f7572"
        "63655f72657175657374a776657273696f6ec0"
    ),
    "revert_request": (
        "85a26964d9203566306336613965326237643465316638613363396430623165326633613462a873"
        "656c6563746f72a7646f75626c655fa6746172676574a767656e65736973a474797065ae72657665"
        "72745f72657175657374a776657273696f6e01"
    ),
    "status_request": (
        "82a26964d9203566306336613965326237643465316638613363396430623165326633613462a474"
        "797065ae7374617475735f72657175657374"
    ),
    "shutdown_request": (
        "82a26964d9203566306336613965326237643465316638613363396430623165326633613462a474"
        "797065b073687574646f776e5f72657175657374"
    ),
    "proposals_request": (
        "82a26964d9203566306336613965326237643465316638613363396430623165326633613462a474"
        "797065b170726f706f73616c735f72657175657374"
    ),
    "approve_request": (
        "85a7617070726f7665c3a8617070726f766572a3616461a26964d920356630633661396532623764"
        "3465316638613363396430623165326633613462a870726f706f73616ca83366326139633064a474"
        "797065af617070726f76655f72657175657374"
    ),
    "proposals_reply": (
        "83a26964d9203566306336613965326237643465316638613363396430623165326633613462a970"
        "726f706f73616c739188a763726561746564cb41d954fc40200000a765787069726573cb41d954fc"
        "d6200000a870726f706f73616ca83366326139633064a873656c6563746f72a7646f75626c655fa6"
        "736f75726365d92764656620646f75626c655f2873656c662c206e293a0a2020202072657475726e"
        "206e202b206e0aa6746172676574a430783161ab7461726765745f6e616d65a767656e65736973a5"
        "747269616c83a26f6bc3a77365636f6e6473cb3fc0000000000000a576616c7565a134a474797065"
        "af70726f706f73616c735f7265706c79"
    ),
    "approve_reply": (
        "84a8617070726f766564c3a26964d920356630633661396532623764346531663861336339643062"
        "3165326633613462a870726f706f73616ca83366326139633064a474797065ad617070726f76655f"
        "7265706c79"
    ),
    "send_reply": (
        "83a26964d9203566306336613965326237643465316638613363396430623165326633613462a672"
        "6573756c7482a424726566a430783161a472657072a161a474797065aa73656e645f7265706c79"
    ),
    "eval_reply": (
        "84a26964d9203566306336613965326237643465316638613363396430623165326633613462a672"
        "6573756c7464a474797065aa6576616c5f7265706c79a97661726961626c657381a17882a5247265"
        "7072a83c6c616d6264613ea52474797065a866756e6374696f6e"
    ),
    "inspect_reply": (
        "86a26964d9203566306336613965326237643465316638613363396430623165326633613462a76d"
        "6574686f64739183aa70726f76656e616e636583a6617574686f72a36c6c6da763726561746564cb"
        "41d954fc40200000a56d6f64656cb27177656e322e352d636f6465722d302e3562a873656c656374"
        "6f72a7646f75626c655fa776657273696f6e02a36f6964a430783161a472657072a93c67656e6573"
        "69733ea5736c6f74739284ab69735f636f6e7374616e74c3a46b696e64a6706172656e74a46e616d"
        "65a7706172656e742aa576616c756582a424726566a430783032a472657072a674726169747384ab"
        "69735f636f6e7374616e74c2a46b696e64a464617461a46e616d65a762616c616e6365a576616c75"
        "6564a474797065ad696e73706563745f7265706c79"
    ),
    "get_full_state_reply": (
        "83a26964d9203566306336613965326237643465316638613363396430623165326633613462a573"
        "7461746582a762616c616e636564a47461677381a5246469637481a2247801a474797065b4676574"
        "5f66756c6c5f73746174655f7265706c79"
    ),
    "complete_reply": (
        "83a26964d9203566306336613965326237643465316638613363396430623165326633613462a973"
        "656c6563746f727392a767656e65736973a467656e32a474797065ae636f6d706c6574655f726570"
        "6c79"
    ),
    "create_method_reply": (
        "83a26964d9203566306336613965326237643465316638613363396430623165326633613462a474"
        "797065b36372656174655f6d6574686f645f7265706c79a776657273696f6e01"
    ),
    "history_reply": (
        "83a7656e74726965739189a6616374696f6ea7696e7374616c6caa70726f76656e616e636583a661"
        "7574686f72a36c6c6da763726561746564cb41d954fc40200000a56d6f64656cb27177656e322e35"
        "2d636f6465722d302e3562a873656c6563746f72a7646f75626c655fa373657107a6736f75726365"
        "a0a6746172676574a430783161ab7461726765745f6e616d65a767656e65736973a474696d65cb41"
        "d954fc40200000a776657273696f6e02a26964d92035663063366139653262376434653166386133"
        "63396430623165326633613462a474797065ad686973746f72795f7265706c79"
    ),
    "source_reply": (
        "87a26964d9203566306336613965326237643465316638613363396430623165326633613462aa70"
        "726f76656e616e636583a6617574686f72a36c6c6da763726561746564cb41d954fc40200000a56d"
        "6f64656cb27177656e322e352d636f6465722d302e3562a873656c6563746f72a7646f75626c655f"
        "a6736f75726365d92764656620646f75626c655f2873656c662c206e293a0a202020207265747572"
        "6e206e202b206e0aa6746172676574a430783161a474797065ac736f757263655f7265706c79a776"
        "657273696f6e02"
    ),
    "revert_reply": (
        "83a26964d9203566306336613965326237643465316638613363396430623165326633613462a474"
        "797065ac7265766572745f7265706c79a776657273696f6e03"
    ),
    "status_reply": (
        "8ba76261636b656e64a67265706c6179a26964d92035663063366139653262376434653166386133"
        "63396430623165326633613462a5696d616765d92a66696c653a2f2f2f686f6d652f752f2e6c6f63"
        "616c2f73686172652f6261746f732f696d6167652e6673ab696e6361726e6174696f6e03a56d6f64"
        "656ca0a3706964cd1092b070726f746f636f6c5f76657273696f6e01ab71756575655f6465707468"
        "00a474797065ac7374617475735f7265706c79a8757074696d655f73cb4029000000000000a7776f"
        "726b65727302"
    ),
    "cem_request": (
        "83a4616374730aa26964d92035663063366139653262376434653166386133633964306231653266"
        "33613462a474797065ab63656d5f72657175657374"
    ),
    "autotelic_request": (
        "83a6616374696f6ea872756e5f6f6e6365a26964d920356630633661396532623764346531663861"
        "3363396430623165326633613462a474797065b16175746f74656c69635f72657175657374"
    ),
    "dataset_request": (
        "84a961667465725f73657100a26964d9203566306336613965326237643465316638613363396430"
        "623165326633613462a56c696d697464a474797065af646174617365745f72657175657374"
    ),
    "cem_reply": (
        "8ba4616374739184aa63656d5f6265666f7265cb3fd999999999999aa76f7574636f6d65a9696e73"
        "74616c6c6564a873656c6563746f72a6646f75626c65a373657101aa636f6d706f6e656e747384aa"
        "636f6d706574656e6365cb3ff0000000000000a9646976657273697479cb0000000000000000a76e"
        "6f76656c7479cb0000000000000000aa7374727563747572616ccb3fe6666666666666a7656e6162"
        "6c6564c2a5666163747382a86d65737361676573cb0000000000000000a76f626a65637473cb4020"
        "000000000000a26964d9203566306336613965326237643465316638613363396430623165326633"
        "613462a772756e6e696e6700a97468726573686f6c64cb3fe0000000000000a57472656e649192cb"
        "41d954fc40200000cb3fdb333333333333a474797065a963656d5f7265706c79a576616c7565cb3f"
        "db333333333333a77765696768747384aa636f6d706574656e6365cb3fd0000000000000a9646976"
        "657273697479cb3fd0000000000000a76e6f76656c7479cb3fd0000000000000aa73747275637475"
        "72616ccb3fd0000000000000"
    ),
    "autotelic_reply": (
        "89a46163747390a662756467657483ae616374735f6c6173745f686f757201a96578686175737465"
        "64a0b16d61785f616374735f7065725f686f757204a7656e61626c6564c3a26964d9203566306336"
        "613965326237643465316638613363396430623165326633613462a76d657373616765d922616374"
        "20332073746172746564202872756e2d6f6e63652072657175657374656429a772756e6e696e6703"
        "a873657474696e677382a669646c655f73cb4072c00000000000a97468726573686f6c64cb3fe000"
        "0000000000a77374617274656403a474797065af6175746f74656c69635f7265706c79"
    ),
    "dataset_reply": (
        "85a4646f6e65c3a26964d92035663063366139653262376434653166386133633964306231653266"
        "33613462a86e6578745f73657107a77265636f7264739182a86d657373616765739282a7636f6e74"
        "656e74ad577269746520646f75626c652ea4726f6c65a47573657282a7636f6e74656e74bf646566"
        "20646f75626c652873656c66293a0a2020202072657475726e20320aa4726f6c65a9617373697374"
        "616e74a86d6574616461746182a873656c6563746f72a6646f75626c65a373657107a474797065ad"
        "646174617365745f7265706c79"
    ),
    "shutdown_reply": (
        "82a26964d9203566306336613965326237643465316638613363396430623165326633613462a474"
        "797065ae73687574646f776e5f7265706c79"
    ),
    "event": (
        "84a46461746181a57068617365aa67656e65726174696e67a26964d9203566306336613965326237"
        "643465316638613363396430623165326633613462a46b696e64a57068617365a474797065a56576"
        "656e74"
    ),
    "error_reply": (
        "86a4636f6465ae736c6f745f6e6f745f666f756e64a26964d9203566306336613965326237643465"
        "316638613363396430623165326633613462a76d657373616765d92667656e6573697320646f6573"
        "206e6f7420756e6465727374616e642066726f626e6963617465a46e616d65ac536c6f744e6f7446"
        "6f756e64a974726163656261636bd92954726163656261636b20286d6f737420726563656e742063"
        "616c6c206c617374293a0a20202e2e2e0aa474797065ab6572726f725f7265706c79"
    ),
}


def _parser(name: str) -> Callable[[dict[str, Any]], pydantic.BaseModel]:
    return parse_request if name in REQUESTS else parse_daemon_message


ALL = {**REQUESTS, **DAEMON_MESSAGES}


def test_every_message_type_has_a_golden_example() -> None:
    assert set(GOLDEN) == set(ALL)
    assert set(REQUESTS) == set(REPLY_TYPE)
    assert set(DAEMON_MESSAGES) == {*REPLY_TYPE.values(), "event", "error_reply"}


@pytest.mark.parametrize("name", sorted(ALL))
def test_golden_bytes(name: str) -> None:
    model = _parser(name)(ALL[name])
    assert encode_body(dump_message(model)).hex() == GOLDEN[name]


@pytest.mark.parametrize("name", sorted(ALL))
def test_golden_bytes_decode_to_the_same_model(name: str) -> None:
    decoded = decode_body(bytes.fromhex(GOLDEN[name]))
    assert _parser(name)(decoded) == _parser(name)(ALL[name])


def test_golden_bytes_are_plain_msgpack() -> None:
    # Hand-decoded: fixmap(2) "id" str8(32) <id> "type" fixstr(14) "status_request".
    expected = (b"\x82\xa2id\xd9\x20" + RID.encode() + b"\xa4type\xae" + b"status_request").hex()
    assert GOLDEN["status_request"] == expected


BUILT: dict[str, dict[str, Any]] = {
    "send_request": dict(
        builders.send_request(
            "genesis",
            "setSlot_value_",
            ["balance", 100, 2.5, None, True, b"\x00\xff", [1, "a"], {"k": "v"}],
            request_id=RID,
        )
    ),
    "eval_request": dict(
        builders.eval_request(
            "x := genesis clone. x balance",
            {"y": {"$ref": "0x1a", "repr": "<account 0x1a>"}},
            request_id=RID,
        )
    ),
    "inspect_request": dict(builders.inspect_request("0x1a", request_id=RID)),
    "get_full_state_request": dict(builders.get_full_state_request(request_id=RID)),
    "complete_request": dict(builders.complete_request(prefix="gen", request_id=RID)),
    "create_method_request": dict(
        builders.create_method_request(
            "genesis", "double_", "def double_(self, n):\n    return 2 * n\n", request_id=RID
        )
    ),
    "history_request": dict(builders.history_request(request_id=RID)),
    "source_request": dict(builders.source_request("genesis", "double_", request_id=RID)),
    "revert_request": dict(builders.revert_request("genesis", "double_", 1, request_id=RID)),
    "status_request": dict(builders.status_request(request_id=RID)),
    "shutdown_request": dict(builders.shutdown_request(request_id=RID)),
    "cem_request": dict(builders.cem_request(request_id=RID)),
    "autotelic_request": dict(builders.autotelic_request("run_once", request_id=RID)),
    "dataset_request": dict(builders.dataset_request(request_id=RID)),
    "proposals_request": dict(builders.proposals_request(request_id=RID)),
    "approve_request": dict(builders.approve_request("3f2a9c0d", True, "ada", request_id=RID)),
}


def test_every_request_has_a_builder() -> None:
    assert set(BUILT) == set(REQUESTS)


@pytest.mark.parametrize("name", sorted(BUILT))
def test_builder_dict_validates_and_encodes_like_the_model(name: str) -> None:
    built = BUILT[name]
    model = parse_request(built)
    # Builders fill every field, so the model's dump is exactly the builder's dict...
    assert dump_message(model) == built
    # ...and the client's bytes are the golden bytes.
    assert encode_body(built).hex() == GOLDEN[name]


def test_builders_choose_fresh_ids() -> None:
    first, second = builders.status_request(), builders.status_request()
    assert first["id"] != second["id"]
    assert len(first["id"]) == 32


@pytest.mark.parametrize(
    "change",
    [
        {"extra": 1},  # extra fields are forbidden
        {"id": ""},  # request ids are not empty
        {"selector": 3},  # no coercion
        {"args": "abc"},
        {"review": "yes"},
        {"args": [{1: 2}]},  # wire dicts have string keys
        {"type": "send_reply"},  # not a request
    ],
)
def test_invalid_requests_are_refused(change: dict[str, Any]) -> None:
    with pytest.raises(pydantic.ValidationError):
        parse_request({**REQUESTS["send_request"], **change})


@pytest.mark.parametrize(
    "change",
    [{"approver": ""}, {"approve": 1}, {"proposal": ""}, {"proposal": "x" * 65}, {"reason": "no"}],
)
def test_invalid_approve_requests_are_refused(change: dict[str, Any]) -> None:
    with pytest.raises(pydantic.ValidationError):
        parse_request({**REQUESTS["approve_request"], **change})


def test_unknown_type_is_refused() -> None:
    with pytest.raises(pydantic.ValidationError):
        parse_request({"type": "frobnicate_request", "id": RID})


def test_defaults_match_the_documentation() -> None:
    send = SendRequest(id=RID, receiver="genesis", selector="foo")
    assert (send.args, send.review) == ([], False)
    assert dump_message(StatusRequest(id=RID)) == {"type": "status_request", "id": RID}


def test_error_reply_from_exception_carries_name_and_traceback() -> None:
    try:
        raise KeyError("balance")
    except KeyError as exc:
        reply = ErrorReply.from_exception(RID, exc, "slot_not_found")
    assert (reply.name, reply.code, reply.message) == ("KeyError", "slot_not_found", "'balance'")
    assert "raise KeyError" in reply.traceback
    with pytest.raises(pydantic.ValidationError):
        ErrorReply(id=RID, name="X", message="m", code="Not A Code")
