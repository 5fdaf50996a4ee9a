"""The primordial methods of `traits`, as source.

They are ordinary Methods (seed defect 2: the seed bound them to the UVM
instance, unpicklable and outside the image), so they can be read with
`batos source traits clone` and redefined live.
"""

from __future__ import annotations

from typing import Any

PRIMORDIAL_SOURCES: dict[str, str] = {
    "clone": '''def clone(self):
    """A new object with a copy of my slots; parents are shared."""
    return batos.clone(self)
''',
    "setSlot_value_": '''def setSlot_value_(self, name, value):
    """Write slot `name` and answer self."""
    batos.set_slot(self, name, value)
    return self
''',
    "removeSlot_": '''def removeSlot_(self, name):
    """Remove my own slot `name` and answer self."""
    batos.remove_slot(self, name)
    return self
''',
    "respondsTo_": '''def respondsTo_(self, selector):
    """True if I or a parent has a slot named `selector`."""
    return batos.responds_to(self, selector)
''',
    "slotNames": '''def slotNames(self):
    """My own slot names, in order."""
    return batos.slot_names(self)
''',
    "printString": '''def printString(self):
    """A short description of me."""
    return batos.print_string(self)
''',
    "doesNotUnderstand_": '''def doesNotUnderstand_(self, selector, arguments):
    """Called on a miss. The daemon's JIT compiler for intent catches this."""
    raise batos.SlotNotFound(batos.oid(self), selector, self, list(arguments))
''',
}


def install_primordials(traits: Any, *, author: str = "batos bootstrap") -> None:
    """Put a Method for each primordial into `traits` (replacing none that exist)."""
    from batos_core.objects.method import Method
    from batos_core.objects.uvm_object import has_slot, set_slot

    for selector, source in PRIMORDIAL_SOURCES.items():
        if not has_slot(traits, selector):
            set_slot(traits, selector, Method(selector, source, {"author": author}))
