"""Delegation through `parent*` slots, Self binding, and the lookup cache's invalidation."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from batos_core.image import Image, Session, open_image
from batos_core.image_format import MIGRATIONS
from batos_core.objects import (
    Method,
    ParentCycleError,
    SlotNotFound,
    UvmObject,
    all_selectors,
    lookup,
    parents,
    remove_slot,
    responds_to,
    send,
    set_slot,
    slot_names,
    understood_slots,
)

GREET = "def greet(self):\n    return 'hi ' + str(self.x)\n"


def method(selector: str, body: str, previous: Method | None = None) -> Method:
    """A one-line Method: `def selector(self): return body`."""
    return Method(selector, f"def {selector}(self):\n    return {body}\n", previous=previous)


def parented(*parent_objs: UvmObject, **slots: object) -> UvmObject:
    """An object whose parent slots p0*, p1*, ... hold `parent_objs` in order."""
    obj = UvmObject(**{f"p{i}*": p for i, p in enumerate(parent_objs)})
    for name, value in slots.items():
        set_slot(obj, name, value)
    return obj


def test_parents_are_searched_depth_first_in_slot_order() -> None:
    deep = UvmObject(x="deep", y="deep")
    first = parented(deep)
    second = UvmObject(x="second", y="second", z="second")
    receiver = parented(first, second)
    assert receiver.x == "deep"  # first parent's ancestors before the second parent
    assert lookup(receiver, "x").holder is deep
    assert receiver.z == "second"
    set_slot(first, "x", "first")
    assert receiver.x == "first"
    assert parents(receiver) == [first, second]


def test_own_slot_shadows_parents() -> None:
    receiver = parented(UvmObject(x=1))
    receiver.x = 2
    assert receiver.x == 2
    assert lookup(receiver, "x").holder is receiver


def test_diamond_through_shared_traits() -> None:
    traits = UvmObject(greet=Method("greet", GREET))
    left = parented(traits, side="left")
    right = parented(traits, side="right")
    receiver = parented(left, right, x=7)
    assert receiver.greet() == "hi 7"
    assert receiver.side == "left"
    names = all_selectors(receiver)
    assert len(names) == len(set(names))
    assert set(names) == {"x", "side", "greet"}


def test_understood_slots_hold_what_a_lookup_finds() -> None:
    deep = UvmObject(x="deep", y="deep")
    second = UvmObject(x="second", y="second", z="second", w="second")
    receiver = parented(parented(deep, y="first"), second, w="own")
    understood = understood_slots(receiver)
    assert understood == {name: lookup(receiver, name).value for name in all_selectors(receiver)}
    assert understood == {"w": "own", "y": "first", "x": "deep", "z": "second"}
    assert list(understood)[:1] == ["w"]  # own slots first


def test_method_found_in_parent_runs_with_self_the_receiver() -> None:
    traits = UvmObject(greet=Method("greet", GREET))
    middle = parented(traits, x="middle")
    receiver = parented(middle, x="receiver")
    assert receiver.greet() == "hi receiver"
    assert middle.greet() == "hi middle"
    assert send(receiver, "greet") == "hi receiver"
    assert lookup(receiver, "greet").holder is traits
    assert lookup(receiver, "greet").kind == "method"


def test_send_to_data_slot_with_arguments_is_a_type_error() -> None:
    obj = UvmObject(x=1)
    assert send(obj, "x") == 1
    with pytest.raises(TypeError, match="data slot"):
        send(obj, "x", 2)


# -- cycles and depth ------------------------------------------------------------


def test_self_parent_is_refused() -> None:
    obj = UvmObject(x=1)
    with pytest.raises(ParentCycleError, match="cycle"):
        set_slot(obj, "parent*", obj)
    assert slot_names(obj) == ["x"]


@pytest.mark.parametrize("length", [2, 3, 10])
def test_parent_cycle_is_refused_at_assignment(length: int) -> None:
    chain = [UvmObject(n=0)]
    for i in range(1, length):
        chain.append(parented(chain[-1], n=i))
    top, bottom = chain[0], chain[-1]
    with pytest.raises(ParentCycleError) as info:
        set_slot(top, "parent*", bottom)
    assert "cycle" in str(info.value) and "parent*" in str(info.value)
    assert slot_names(top) == ["n"]  # nothing written
    assert not responds_to(bottom, "nothing")  # lookup still terminates


def test_cycle_built_by_two_concurrent_commits_raises_parent_cycle_not_recursion(image: Image) -> None:
    # Each connection's check passes (it cannot see the other's write) and the
    # two commits touch different objects, so ZODB accepts both.
    setup = image.session()
    a, b = UvmObject(), UvmObject()
    set_slot(setup.lobby, "a", a)
    set_slot(setup.lobby, "b", b)
    setup.commit()
    one, two = image.session(), image.session()
    set_slot(one.lobby.a, "p*", one.lobby.b)
    set_slot(two.lobby.b, "p*", two.lobby.a)
    one.commit()
    two.commit()
    setup.transaction_manager.begin()
    with pytest.raises(ParentCycleError):
        setup.lobby.a.missing  # noqa: B018
    with pytest.raises(ParentCycleError):
        responds_to(setup.lobby.b, "missing")
    for s in (setup, one, two):
        s.close()


def test_deep_parent_chain_needs_no_recursion(image_path: Path) -> None:
    depth = 2000
    with open_image(image_path, migrations=MIGRATIONS) as img:
        s = img.session()
        chain = [UvmObject() for _ in range(depth)]
        # Linked bottom-up so each new parent has no ancestors yet: the cycle
        # check on assignment walks the new parent's ancestors.
        for child, parent in itertools.pairwise(chain):
            set_slot(child, "parent*", parent)
        current, top = chain[0], chain[-1]
        set_slot(top, "answer", method("answer", "self.x * 2"))
        set_slot(current, "x", 21)
        s.lobby.bottom = current
        s.commit()
        assert current.answer() == 42
        with pytest.raises(ParentCycleError):
            set_slot(top, "parent*", current)
        s.close()
    with open_image(image_path, migrations=MIGRATIONS) as img:
        bottom = img.lobby.bottom
        assert bottom.answer() == 42
        assert parents(lookup(bottom, "answer").holder) == []  # found in the top
        with pytest.raises(SlotNotFound):
            bottom.nothing  # noqa: B018


# -- the lookup cache ------------------------------------------------------------


def three_levels() -> tuple[UvmObject, UvmObject, UvmObject]:
    """grand <- parent <- receiver; `greet` lives in grand; the receiver has x."""
    grand = UvmObject(greet=Method("greet", GREET))
    parent = parented(grand)
    receiver = parented(parent, x=1)
    return grand, parent, receiver


def warm(receiver: UvmObject, selector: str) -> object:
    """Send once and check the answer is now cached on the receiver (so a stale cache could show)."""
    result = getattr(receiver, selector)
    assert selector in receiver.__dict__, "the lookup cache was not used"
    return result() if callable(result) else result


def test_cache_flushed_by_shadowing_slot_in_intermediate_parent() -> None:
    _, parent, receiver = three_levels()
    assert warm(receiver, "greet") == "hi 1"
    set_slot(parent, "greet", method("greet", "'shadowed'"))
    assert receiver.greet() == "shadowed"
    remove_slot(parent, "greet")
    assert receiver.greet() == "hi 1"


def test_cache_flushed_by_changing_a_parent_slot() -> None:
    _, parent, receiver = three_levels()
    assert warm(receiver, "greet") == "hi 1"
    other = UvmObject(greet=method("greet", "'other grand'"))
    set_slot(parent, "p0*", other)
    assert receiver.greet() == "other grand"
    set_slot(receiver, "p0*", UvmObject(greet=method("greet", "'new parent'")))
    assert receiver.greet() == "new parent"


def test_cache_flushed_by_removing_a_method_from_a_grandparent() -> None:
    grand, _, receiver = three_levels()
    assert warm(receiver, "greet") == "hi 1"
    remove_slot(grand, "greet")
    with pytest.raises(SlotNotFound):
        receiver.greet()
    assert not responds_to(receiver, "greet")


def test_cache_flushed_by_replacing_a_method_with_a_new_version() -> None:
    grand, _, receiver = three_levels()
    assert warm(receiver, "greet") == "hi 1"
    old = lookup(receiver, "greet").value
    set_slot(grand, "greet", method("greet", "'v2 ' + str(self.x)", previous=old))
    assert receiver.greet() == "v2 1"
    assert lookup(receiver, "greet").value.version == 2


def test_cache_flushed_for_inherited_data_slots() -> None:
    grand = UvmObject(colour="red")
    receiver = parented(parented(grand))
    assert warm(receiver, "colour") == "red"
    grand.colour = "blue"
    assert receiver.colour == "blue"


def test_cache_flushed_when_the_receiver_gets_an_own_method() -> None:
    _, _, receiver = three_levels()
    assert warm(receiver, "greet") == "hi 1"
    set_slot(receiver, "greet", method("greet", "'own'"))
    assert receiver.greet() == "own"
    remove_slot(receiver, "greet")
    assert receiver.greet() == "hi 1"


def store_three_levels(session: Session) -> None:
    grand, parent, receiver = three_levels()
    session.lobby.grand = grand
    session.lobby.parent = parent
    session.lobby.receiver = receiver
    session.commit()


def test_cache_flushed_when_another_connection_commits_a_parent_change(image: Image) -> None:
    a, b = image.session(), image.session()
    store_three_levels(a)
    assert warm(a.lobby.receiver, "greet") == "hi 1"
    b.transaction_manager.begin()
    set_slot(b.lobby.parent, "greet", method("greet", "'from B ' + str(self.x)"))
    b.commit()
    a.transaction_manager.begin()  # a new transaction sees B's commit
    assert a.lobby.receiver.greet() == "from B 1"
    # And a change to the grandparent, committed elsewhere, too.
    b.transaction_manager.begin()
    remove_slot(b.lobby.parent, "greet")
    set_slot(b.lobby.grand, "greet", method("greet", "'grand v2'"))
    b.commit()
    a.transaction_manager.begin()
    assert a.lobby.receiver.greet() == "grand v2"
    a.close()
    b.close()


def test_abort_restores_the_old_behaviour(session: Session) -> None:
    store_three_levels(session)
    receiver = session.lobby.receiver
    assert warm(receiver, "greet") == "hi 1"
    set_slot(session.lobby.parent, "greet", method("greet", "'uncommitted'"))
    receiver.x = 99
    assert receiver.greet() == "uncommitted"
    session.abort()
    assert receiver.greet() == "hi 1"
    assert warm(receiver, "greet") == "hi 1"
    set_slot(session.lobby.grand, "p*", UvmObject(extra=1))
    assert receiver.extra == 1
    session.abort()
    assert not responds_to(receiver, "extra")
    with pytest.raises(SlotNotFound):
        receiver.extra  # noqa: B018


def test_cache_flushed_after_the_zodb_cache_dropped_the_parents(image_path: Path) -> None:
    # Once a lookup is cached, sending it no longer touches the parents, so the
    # connection's cache GC ghosts them as least recently used and frees them.
    # A commit elsewhere to a freed parent then has nothing to invalidate in
    # this connection, yet the receiver's cached lookup must still be flushed.
    with open_image(image_path, cache_size=10, migrations=MIGRATIONS) as img:
        a, b = img.session(), img.session()
        grand, parent, receiver = three_levels()
        a.lobby.receiver = receiver
        a.lobby.others = [UvmObject(n=i) for i in range(50)]
        a.commit()
        del grand, parent
        assert warm(receiver, "greet") == "hi 1"
        for _ in range(3):  # ordinary work: many other objects, and the receiver
            a.transaction_manager.begin()
            assert sum(o.n for o in a.lobby.others) == sum(range(50))
            assert receiver.greet() == "hi 1"
            a.commit()
        b.transaction_manager.begin()
        b_grand = parents(parents(b.lobby.receiver)[0])[0]
        set_slot(b_grand, "greet", method("greet", "'changed elsewhere'"))
        b.commit()
        a.transaction_manager.begin()
        assert receiver.greet() == "changed elsewhere"
        a.close()
        b.close()
