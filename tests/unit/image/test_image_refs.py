"""Object references (`0x1a`, `1a`, `genesis`) and Session.resolve."""

from __future__ import annotations

import pytest

from batos_core.image import BadReference, ObjectNotFound, Ref, Session, parse_ref
from batos_core.objects import UvmObject


@pytest.mark.parametrize(
    ("text", "name", "oid"),
    [
        ("0x1a", None, 0x1A),
        ("0X1A", None, 0x1A),
        ("0x0", None, 0),
        ("1a", None, 0x1A),
        ("42", None, 0x42),
        ("genesis", "genesis", None),
        ("  genesis  ", "genesis", None),
        ("cafe", "cafe", 0xCAFE),  # ambiguous: a lobby name wins, else an oid
        ("Beef", "Beef", 0xBEEF),
        ("set_x", "set_x", None),
    ],
)
def test_parse_ref(text: str, name: str | None, oid: int | None) -> None:
    ref = parse_ref(text)
    assert (ref.name, ref.oid) == (name, oid)
    assert ref.text == text.strip()


@pytest.mark.parametrize("text", ["", "   ", "0x", "0xzz", "zz!", "_private", "1a-2", "gen esis", "0x1g"])
def test_bad_references(text: str) -> None:
    with pytest.raises(BadReference) as info:
        parse_ref(text)
    assert "\n" not in str(info.value)
    assert isinstance(info.value, ValueError)


def oid_int(obj: object) -> int:
    oid = getattr(obj, "_p_oid", None)
    assert isinstance(oid, bytes)
    return int.from_bytes(oid, "big")


def test_resolve_by_name_and_by_oid(session: Session) -> None:
    genesis = session.genesis
    assert session.resolve("genesis") is genesis
    assert session.resolve("traits") is session.traits
    assert session.resolve(hex(oid_int(genesis))) is genesis
    assert session.resolve(f"{oid_int(genesis):x}") is genesis
    assert session.resolve(Ref("g", oid=oid_int(genesis))) is genesis


def test_ambiguous_word_prefers_the_lobby_name(session: Session) -> None:
    genesis = session.genesis
    oid_word = f"{oid_int(genesis):x}"  # bare hex digits, not a lobby name
    obj = UvmObject(tag="named")
    session.lobby.cafe = obj
    session.commit()
    assert session.resolve("cafe") is obj
    assert session.resolve(oid_word) is genesis


def test_missing_oid_and_name(session: Session) -> None:
    with pytest.raises(ObjectNotFound, match="0xcafe"):
        session.resolve("cafe")  # not a lobby name, and no such oid
    with pytest.raises(ObjectNotFound, match="0x7777"):
        session.resolve("0x7777")
    with pytest.raises(ObjectNotFound, match="nothing_here"):
        session.resolve("nothing_here")
    with pytest.raises(ObjectNotFound, match="not a UvmObject"):
        session.resolve("0x0")  # the ZODB root mapping
    with pytest.raises(BadReference, match="out of range"):
        session.resolve("0x" + "f" * 17)
    with pytest.raises(ObjectNotFound):
        session.get(0x7777)
