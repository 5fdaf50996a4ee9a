"""The globals a Method runs with: the `batos` API and, for every method not
marked trusted, the restricted namespace of `batos_core.sandbox`.

Methods never see the daemon's module globals (the seed ran generated code with
`globals()`, database root included). Both namespaces are built once per process.
"""

from __future__ import annotations

import builtins
import threading
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from batos_core.sandbox.namespace import RestrictedNamespace

_lock = threading.Lock()
_globals: dict[str, Any] | None = None
_restricted: RestrictedNamespace | None = None


def batos_api() -> SimpleNamespace:
    """The `batos` object visible to methods: the kernel operations of the object model."""
    return SimpleNamespace(**_api_names())


def _api_names() -> dict[str, Any]:
    from batos_core.objects import uvm_object as uo
    from batos_core.objects.errors import SlotNotFound
    from batos_core.objects.printing import print_string
    from batos_core.selfsyntax.runtime import api as selflang_api

    return dict(
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
        selflang=selflang_api(),
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


def restricted_namespace() -> RestrictedNamespace:
    """The restricted namespace of this process: the allow-listed modules as
    frozen proxies, the `batos` API frozen, batos objects writable."""
    global _restricted
    if _restricted is None:
        with _lock:
            if _restricted is None:
                from batos_core.objects.uvm_object import UvmObject
                from batos_core.sandbox.allowlist import METHOD_MODULES
                from batos_core.sandbox.namespace import RestrictedNamespace

                _restricted = RestrictedNamespace(METHOD_MODULES, _api_names(), writable=(UvmObject,))
    return _restricted
