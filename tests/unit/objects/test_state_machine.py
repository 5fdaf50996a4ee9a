"""Random slot and parent edits on a real FileStorage image, checked against a plain-dict model.

The model keeps, per object, an ordered dict of slots: data slots hold ints,
parent slots hold the index of another object. Lookup in the model is the
documented rule (own slots, then parents depth first in slot order, each
object once). Every step reads every selector through the real objects, so the
lookup cache is warm when the next edit happens and a stale cache shows.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

import hypothesis.strategies as st
from hypothesis import settings
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from batos_core.image import Image, Session, open_image
from batos_core.image_format import MIGRATIONS
from batos_core.objects import (
    ParentCycleError,
    SlotNotFound,
    UvmObject,
    clone,
    lookup,
    remove_slot,
    set_slot,
    slot_names,
)

DATA_NAMES = ("a", "b", "c")
PARENT_NAMES = ("p*", "q*")
ALL_NAMES = DATA_NAMES + PARENT_NAMES
MAX_OBJECTS = 8

# A model object: slot name -> ("data", int) or ("parent", index of the parent).
ModelSlots = dict[str, tuple[str, int]]

indices = st.integers(min_value=0, max_value=MAX_OBJECTS - 1)


def model_walk(model: list[ModelSlots], start: int) -> list[int]:
    """Objects in lookup order: start, then parents depth first in slot order, once each."""
    order: list[int] = []

    def visit(i: int) -> None:
        if i in order:
            return
        order.append(i)
        for kind, value in model[i].values():
            if kind == "parent":
                visit(value)

    visit(start)
    return order


def model_lookup(model: list[ModelSlots], start: int, name: str) -> tuple[int, tuple[str, int]] | None:
    """(holder index, slot) where `name` is found from `start`, or None."""
    for i in model_walk(model, start):
        if name in model[i]:
            return i, model[i][name]
    return None


class ImageStateMachine(RuleBasedStateMachine):
    """Slots, parents and clones on stored objects, with commit/abort/reopen."""

    def __init__(self) -> None:
        super().__init__()
        self.dir = Path(tempfile.mkdtemp(prefix="batos-sm-"))
        self.path = self.dir / "image.fs"
        self.image: Image = open_image(self.path, migrations=MIGRATIONS)
        self.session: Session = self.image.session()
        self.session.lobby.objs = [UvmObject() for _ in range(3)]
        self.session.commit()
        self.model: list[ModelSlots] = [{} for _ in range(3)]
        self.committed: list[ModelSlots] = [{} for _ in range(3)]
        self.objs: list[UvmObject] = list(self.session.lobby.objs)

    def teardown(self) -> None:
        self.session.close()
        self.image.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def pick(self, index: int) -> int:
        return index % len(self.objs)

    # -- edits -------------------------------------------------------------

    @rule(at=indices, name=st.sampled_from(DATA_NAMES), value=st.integers(-3, 3))
    def set_data(self, at: int, name: str, value: int) -> None:
        i = self.pick(at)
        set_slot(self.objs[i], name, value)
        self.model[i][name] = ("data", value)

    @rule(at=indices, name=st.sampled_from(ALL_NAMES))
    def remove(self, at: int, name: str) -> None:
        i = self.pick(at)
        if name in self.model[i]:
            remove_slot(self.objs[i], name)
            del self.model[i][name]
        else:
            try:
                remove_slot(self.objs[i], name)
            except SlotNotFound:
                pass
            else:
                raise AssertionError(f"removed {name!r} that the model does not have")

    @rule(child=indices, name=st.sampled_from(PARENT_NAMES), parent=indices)
    def set_parent(self, child: int, name: str, parent: int) -> None:
        c, p = self.pick(child), self.pick(parent)
        cycle = c in model_walk(self.model, p)
        try:
            set_slot(self.objs[c], name, self.objs[p])
        except ParentCycleError:
            assert cycle, f"refused {c}.{name} = {p} though the model sees no cycle"
        else:
            assert not cycle, f"accepted the cycle {c}.{name} = {p}"
            self.model[c][name] = ("parent", p)

    @precondition(lambda self: len(self.objs) < MAX_OBJECTS)
    @rule(source=indices)
    def clone_object(self, source: int) -> None:
        i = self.pick(source)
        new = clone(self.objs[i])
        self.session.lobby.objs.append(new)
        self.objs.append(new)
        self.model.append(dict(self.model[i]))

    # -- transactions and the file -----------------------------------------

    @rule()
    def commit(self) -> None:
        self.session.commit()
        self.committed = [dict(slots) for slots in self.model]

    @rule()
    def abort(self) -> None:
        self.session.abort()
        self.objs = list(self.session.lobby.objs)
        self.model = [dict(slots) for slots in self.committed]

    @rule()
    def commit_close_reopen(self) -> None:
        self.commit()
        self.session.close()
        self.image.close()
        self.image = open_image(self.path, migrations=MIGRATIONS)
        self.session = self.image.session()
        self.objs = list(self.session.lobby.objs)

    # -- checks --------------------------------------------------------------

    @invariant()
    def same_objects(self) -> None:
        assert len(self.objs) == len(self.model)
        for obj, slots in zip(self.objs, self.model, strict=True):
            assert slot_names(obj) == list(slots)

    @invariant()
    def lookups_agree(self) -> None:
        for i, obj in enumerate(self.objs):
            for name in ALL_NAMES:
                expected = model_lookup(self.model, i, name)
                if expected is None:
                    try:
                        getattr(obj, name)
                    except SlotNotFound as err:
                        assert err.selector == name
                    else:
                        raise AssertionError(f"object {i} answers {name!r}; the model has no such slot")
                    continue
                holder, (kind, value) = expected
                got: Any = getattr(obj, name)  # through the receiver's lookup cache
                want = value if kind == "data" else self.objs[value]
                assert got is want or got == want, f"object {i}.{name}: {got!r} != {want!r}"
                assert lookup(obj, name).holder is self.objs[holder]


ImageStateMachine.TestCase.settings = settings(
    max_examples=40, stateful_step_count=25, deadline=None, database=None
)
TestImageStateMachine = ImageStateMachine.TestCase
