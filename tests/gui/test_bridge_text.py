"""What the bridge shows of replies, and the typed-message fallback (pure, no daemon)."""

from __future__ import annotations

import pytest

from batos_core.gui.plain_send import send_request_for
from batos_core.gui.replies import plain_state, reply_text, value_text


def test_plain_state_turns_markers_into_text() -> None:
    state = {
        "parent*": {"$ref": "0x7", "repr": "traits"},
        "odd": {"$repr": "{1, 2}", "$type": "set"},
        "table": {"$dict": {"$x": 1}},
        "items": [1, {"$ref": "0x9", "repr": ""}],
        "n": 3,
    }
    assert plain_state(state) == {
        "parent*": "traits",
        "odd": "{1, 2}",
        "table": {"$x": 1},
        "items": [1, "0x9"],
        "n": 3,
    }


@pytest.mark.parametrize(
    ("wire", "text"),
    [
        (None, "nil"),
        (True, "true"),
        ("it's", "'it''s'"),
        ([1, "a"], "(1, 'a')"),
        ({"$ref": "0x8", "repr": "a UvmObject 0x8"}, "a UvmObject 0x8"),
        ({"k": 2}, "{k: 2}"),
    ],
)
def test_value_text_prints_like_the_repl(wire: object, text: str) -> None:
    assert value_text(wire) == text


def test_reply_text_of_results_and_errors() -> None:
    assert reply_text({"type": "send_reply", "id": "1", "result": 7}) == "7"
    error = {"type": "error_reply", "id": "1", "name": "SlotNotFound", "message": "no foo", "code": "x"}
    assert reply_text(error) == "error: SlotNotFound: no foo"


def test_send_request_for_one_keyword_message() -> None:
    request = send_request_for("genesis setSlot: 'x' value: 3")
    assert (request["receiver"], request["selector"], request["args"]) == (
        "genesis",
        "setSlot:value:",
        ["x", 3],
    )
    request = send_request_for("@1a at: traits")
    assert request["receiver"] == "0x1a"
    assert request["args"] == [{"$ref": "traits", "repr": ""}]


@pytest.mark.parametrize(
    "text", ["genesis foo. genesis bar", "3 + 4", "genesis at: (genesis foo)", "genesis at: '"]
)
def test_send_request_for_refuses_what_it_cannot_send(text: str) -> None:
    with pytest.raises(ValueError):
        send_request_for(text)
