"""The primordial Methods in `traits`, exercised on a bootstrapped image."""

from __future__ import annotations

import pytest

from batos_core.image import Session
from batos_core.objects import (
    Method,
    SlotNotFound,
    get_slot,
    lookup,
    parents,
    send,
    set_slot,
    slot_names,
)
from batos_core.objects.primordials import PRIMORDIAL_SOURCES


def test_primordials_are_methods_in_traits(session: Session) -> None:
    traits = session.traits
    for selector in ("clone", "setSlot_value_", "removeSlot_", "respondsTo_", "slotNames"):
        assert selector in PRIMORDIAL_SOURCES
    for selector in PRIMORDIAL_SOURCES:
        value = get_slot(traits, selector)
        assert isinstance(value, Method)
        assert value.selector == selector
        assert value.provenance["author"] == "batos bootstrap"
        assert lookup(session.genesis, selector).holder is traits


def test_clone_copies_slots_shares_parents_and_copies_lists(session: Session) -> None:
    genesis = session.genesis
    genesis.items = [1, 2]
    genesis.table = {"a": 1}
    genesis.n = 1
    twin = genesis.clone()
    assert twin is not genesis
    assert slot_names(twin) == slot_names(genesis)
    assert parents(twin) == parents(genesis)
    assert parents(twin)[0] is session.traits  # shared, not copied
    twin.items.append(3)
    twin.table["b"] = 2
    twin.n = 5
    assert list(genesis.items) == [1, 2]
    assert dict(genesis.table) == {"a": 1}
    assert genesis.n == 1
    assert list(twin.items) == [1, 2, 3]
    # A clone is a first-class object: it can be stored and committed.
    session.lobby.twin = twin
    session.commit()
    assert twin._p_oid is not None


def test_set_slot_value_and_remove_slot_answer_self(session: Session) -> None:
    genesis = session.genesis
    assert genesis.setSlot_value_("colour", "red") is genesis
    assert genesis.colour == "red"
    assert send(genesis, "setSlot_value_", "size", [1]) is genesis
    assert list(genesis.size) == [1]
    assert genesis.removeSlot_("colour") is genesis
    assert "colour" not in slot_names(genesis)
    with pytest.raises(SlotNotFound):
        genesis.removeSlot_("colour")


def test_responds_to_and_slot_names(session: Session) -> None:
    genesis = session.genesis
    genesis.x = 1
    assert genesis.respondsTo_("x") is True
    assert genesis.respondsTo_("clone") is True  # inherited from traits
    assert genesis.respondsTo_("fly") is False
    assert genesis.respondsTo_("__class__") is False
    assert genesis.slotNames() == ["parent*", "x"]


def test_print_string(session: Session) -> None:
    genesis = session.genesis
    genesis.x = 3
    text = genesis.printString()
    oid = hex(int.from_bytes(genesis._p_oid, "big"))
    assert text.startswith(f"a UvmObject {oid} (")
    assert "x: 3" in text
    assert "parent*: 0x" in text


def test_does_not_understand_raises_slot_not_found(session: Session) -> None:
    genesis = session.genesis
    with pytest.raises(SlotNotFound) as info:
        genesis.doesNotUnderstand_("fly", [])
    assert info.value.selector == "fly"
    with pytest.raises(SlotNotFound) as info:
        send(genesis, "fly", 1)
    assert info.value.selector == "fly"
    assert info.value.receiver is genesis


def test_send_on_a_miss_goes_through_a_live_redefined_does_not_understand(session: Session) -> None:
    genesis = session.genesis
    source = (
        "def doesNotUnderstand_(self, selector, arguments):\n"
        "    return ('handled', selector, list(arguments), batos.oid(self))\n"
    )
    old = get_slot(session.traits, "doesNotUnderstand_")
    set_slot(session.traits, "doesNotUnderstand_", Method("doesNotUnderstand_", source, previous=old))
    oid = hex(int.from_bytes(genesis._p_oid, "big"))
    assert send(genesis, "fly_to_", "moon") == ("handled", "fly_to_", ["moon"], oid)
    # A hit does not go through doesNotUnderstand_.
    genesis.x = 1
    assert send(genesis, "x") == 1
    # Attribute access is plain lookup: a miss is still SlotNotFound.
    with pytest.raises(SlotNotFound):
        genesis.fly_to_  # noqa: B018
    session.abort()
    with pytest.raises(SlotNotFound):
        send(genesis, "fly_to_", "moon")
