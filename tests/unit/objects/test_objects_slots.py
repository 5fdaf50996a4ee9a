"""Slots on UvmObject: write/read/remove, names, persistence of containers, probes."""

from __future__ import annotations

import copy
import pickle
from pathlib import Path
from typing import Any

import pytest
from persistent.list import PersistentList
from persistent.mapping import PersistentMapping

from batos_core.image import Session, open_image
from batos_core.image_format import MIGRATIONS
from batos_core.objects import (
    ConstantSlotError,
    InvalidSlotName,
    Method,
    NotAUvmObject,
    SlotNotFound,
    UvmObject,
    get_slot,
    has_slot,
    is_constant_slot,
    lookup,
    remove_slot,
    set_slot,
    slot_items,
    slot_names,
    uvm_object,
)


def test_write_read_remove_own_slot() -> None:
    obj = UvmObject()
    set_slot(obj, "x", 3)
    assert obj.x == 3
    assert get_slot(obj, "x") == 3
    obj.x = 4  # attribute syntax is a slot write too
    assert get_slot(obj, "x") == 4
    assert remove_slot(obj, "x") == 4
    assert not has_slot(obj, "x")
    with pytest.raises(SlotNotFound):
        obj.x  # noqa: B018
    with pytest.raises(SlotNotFound):
        remove_slot(obj, "x")


def test_del_attribute_removes_slot_and_slot_order_is_kept() -> None:
    obj = UvmObject(b=1, a=2, c=3)
    del obj.a
    assert slot_names(obj) == ["b", "c"]
    obj.a = 5
    assert slot_items(obj) == [("b", 1), ("c", 3), ("a", 5)]


@pytest.mark.parametrize(
    "name",
    [
        *["1x", "a b", "x-y", "", "*", "x**", "é"],  # not identifiers
        *["class", "lambda", "None"],  # keywords
        *["_x", "__class__", "__dict__", "_p_x", "_v_y"],  # reserved
    ],
)
def test_invalid_slot_names_raise_and_write_nothing(name: str) -> None:
    obj = UvmObject(keep=1)
    with pytest.raises(InvalidSlotName) as info:
        set_slot(obj, name, 1)
    assert repr(name) in str(info.value)
    assert slot_names(obj) == ["keep"]


def test_underscore_attribute_assignment_is_refused_not_a_slot() -> None:
    obj = UvmObject()
    with pytest.raises(InvalidSlotName, match="_secret"):
        obj._secret = 1
    with pytest.raises(InvalidSlotName, match="__class__"):
        obj.__class__ = UvmObject
    assert slot_names(obj) == []


def test_parent_slot_needs_a_uvm_object() -> None:
    obj = UvmObject()
    with pytest.raises(NotAUvmObject, match="parent\\*"):
        set_slot(obj, "parent*", {"x": 1})
    assert slot_names(obj) == []


@pytest.mark.parametrize(
    "probe", ["__rich__", "_repr_html_", "__getstate_x__", "_p_nothing", "_v_cache", "_ipython_display_"]
)
def test_reserved_names_never_delegate(probe: str) -> None:
    obj = UvmObject(**{"parent*": UvmObject(x=1)})
    with pytest.raises(AttributeError) as info:
        getattr(obj, probe)
    assert not isinstance(info.value, SlotNotFound)
    assert not hasattr(obj, probe)


def test_miss_is_structured_slot_not_found(session: Session) -> None:
    genesis = session.genesis
    with pytest.raises(SlotNotFound) as info:
        genesis.frobnicate  # noqa: B018
    err = info.value
    assert isinstance(err, AttributeError)
    assert err.selector == "frobnicate"
    assert err.receiver is genesis
    assert err.receiver_oid == hex(int.from_bytes(genesis._p_oid, "big"))
    assert err.receiver_oid.startswith("0x")
    assert err.receiver_oid in str(err) and "frobnicate" in str(err)
    assert not hasattr(genesis, "frobnicate")


def test_lookup_of_reserved_name_is_refused() -> None:
    with pytest.raises(InvalidSlotName):
        lookup(UvmObject(), "__class__")


def test_copy_and_pickle_of_stored_object_do_not_reach_lookup(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    genesis = session.genesis
    genesis.x = 1
    session.commit()
    genesis._p_deactivate()  # a ghost: copy and pickle must activate it, not look up
    # Spy on the lookup (it still runs): record every selector it is asked for.
    asked: list[str] = []
    real_find = uvm_object._find

    def spying_find(obj: UvmObject, selector: str) -> Any:
        asked.append(selector)
        return real_find(obj, selector)

    monkeypatch.setattr(uvm_object, "_find", spying_find)
    twin = copy.copy(genesis)
    assert slot_names(twin) == ["parent*", "x"]
    data = pickle.dumps(genesis)
    assert isinstance(data, bytes) and data
    assert asked == []
    with pytest.raises(SlotNotFound):
        genesis.really_missing  # noqa: B018
    assert asked == ["really_missing"]  # the spy works


def test_copy_copy_does_not_share_slots_with_the_original(session: Session) -> None:
    genesis = session.genesis
    genesis.x = 1
    session.commit()
    twin = copy.copy(genesis)
    twin.y = 2
    # A write to the copy must not reach the original behind ZODB's back.
    assert slot_names(genesis) == ["parent*", "x"]
    assert not genesis._p_changed


def test_every_slot_write_marks_the_object_changed(session: Session) -> None:
    genesis = session.genesis
    session.commit()
    assert genesis._p_changed is False
    genesis.x = 1
    assert genesis._p_changed is True
    session.commit()
    remove_slot(genesis, "x")
    assert genesis._p_changed is True
    session.commit()
    set_slot(genesis, "m", Method("m", "def m(self):\n    return 1\n"))
    assert genesis._p_changed is True
    session.abort()


def test_lists_and_dicts_become_persistent_containers_recursively() -> None:
    obj = UvmObject(items=[1, [2, 3], {"k": [4]}], table={"a": {"b": [5]}})
    items = get_slot(obj, "items")
    assert type(items) is PersistentList
    assert type(items[1]) is PersistentList
    assert type(items[2]) is PersistentMapping
    assert type(items[2]["k"]) is PersistentList
    table = get_slot(obj, "table")
    assert type(table) is PersistentMapping
    assert type(table["a"]) is PersistentMapping
    assert type(table["a"]["b"]) is PersistentList


def test_lists_inside_tuples_become_persistent_too() -> None:
    obj = UvmObject(pair=(1, [2], {"k": [3]}))
    pair = get_slot(obj, "pair")
    assert type(pair) is tuple and pair[0] == 1
    assert type(pair[1]) is PersistentList
    assert type(pair[2]) is PersistentMapping
    assert type(pair[2]["k"]) is PersistentList


def test_in_place_changes_survive_commit_and_reopen(image_path: Path) -> None:
    with open_image(image_path, migrations=MIGRATIONS) as img:
        s = img.session()
        g = s.genesis
        g.log = []
        g.index = {"inner": []}
        s.commit()
        # Generated code mutates in place and never touches _p_changed.
        g.log.append("one")
        g.index["inner"].append(2)
        g.index["new"] = {"deep": [3]}
        s.commit()
        s.close()
    with open_image(image_path, migrations=MIGRATIONS) as img:
        g = img.genesis
        assert list(g.log) == ["one"]
        assert list(g.index["inner"]) == [2]
        assert list(g.index["new"]["deep"]) == [3]


def test_constant_slots_refuse_writes() -> None:
    obj = UvmObject()
    set_slot(obj, "pi", 3.14, constant=True)
    assert is_constant_slot(obj, "pi")
    with pytest.raises(ConstantSlotError, match="pi"):
        set_slot(obj, "pi", 3)
    with pytest.raises(ConstantSlotError):
        obj.pi = 3
    assert obj.pi == 3.14
    assert not is_constant_slot(obj, "other")


def test_constants_survive_reopen(image_path: Path) -> None:
    with open_image(image_path, migrations=MIGRATIONS) as img:
        s = img.session()
        set_slot(s.genesis, "answer", 42, constant=True)
        s.commit()
        s.close()
    with open_image(image_path, migrations=MIGRATIONS) as img:
        with pytest.raises(ConstantSlotError):
            img.genesis.answer = 0
        assert img.genesis.answer == 42
