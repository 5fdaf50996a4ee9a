"""The globals a Method runs with: builtins plus the `batos` API.

Methods never see the daemon's module globals (the seed ran generated code with
`globals()`, database root included). The namespace is built once per process.
"""

from __future__ import annotations

import builtins
import threading
from types import SimpleNamespace
from typing import Any

_lock = threading.Lock()
_globals: dict[str, Any] | None = None


def batos_api() -> SimpleNamespace:
    """The `batos` object visible to methods: the kernel operations of the object model."""
    from batos_core.objects import uvm_object as uo
    from batos_core.objects.errors import SlotNotFound
    from batos_core.objects.printing import print_string

    return SimpleNamespace(
        clone=uo.clone,
        new=uo.UvmObject,
        set_slot=uo.set_slot,
        get_slot=uo.get_slot,
        remove_slot=uo.remove_slot,
        slot_names=uo.slot_names,
        parents=uo.parents,
        responds_to=uo.responds_to,
        send=uo.send,
        oid=uo.format_oid,
        print_string=print_string,
        SlotNotFound=SlotNotFound,
        UvmObject=uo.UvmObject,
    )


def method_globals() -> dict[str, Any]:
    """The shared base globals for compiled methods (copied per method)."""
    global _globals
    if _globals is None:
        with _lock:
            if _globals is None:
                _globals = {
                    "__builtins__": builtins,
                    "__name__": "batos.methods",
                    "batos": batos_api(),
                }
    return _globals
