"""The globals a Method runs with: the `batos` API and, for every method not
marked trusted, the restricted namespace of `batos_core.sandbox`.

Methods never see the daemon's module globals (the seed ran generated code with
`globals()`, database root included). Both namespaces are built once per process.

The `batos` API is the object model's kernel operations plus what a layer
above provides with `provide_api`: the Self syntax's runtime is
``batos.selflang`` (`batos_core.selfsyntax.runtime.provide_runtime`), which
code compiled from Self reaches. This module imports nothing above the object
model; `batos_core.image_format`, which every process that opens an image
uses, provides the runtime, as do the daemon's `lifecycle` and the Self
evaluator before each statement it runs.
"""

from __future__ import annotations

import builtins
import threading
from collections.abc import Callable
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from batos_core.sandbox.namespace import RestrictedNamespace

_lock = threading.Lock()
_globals: dict[str, Any] | None = None
_restricted: RestrictedNamespace | None = None
#: Names a layer above added to the `batos` API, each with the function that
#: makes its value (called when the namespaces are built).
_provided: dict[str, Callable[[], Any]] = {}


def provide_api(name: str, make: Callable[[], Any]) -> None:
    """Add ``batos.<name>`` to the API every method compiled from now on sees.

    Idempotent for the same `make`. A new name drops the namespaces built so
    far, so the next method compiled gets it (a method compiled before keeps
    the globals it has). Raises ValueError for a name the kernel API has or
    another provider took.
    """
    if _provided.get(name) is make:
        return  # the evaluator's call per statement: no lock
    with _lock:
        if _provided.get(name) is make:
            return
        if name in _provided or name in _kernel_names():
            raise ValueError(f"batos.{name} is already part of the method API")
        _provided[name] = make
        _drop_built()


def _drop_built() -> None:
    global _globals, _restricted
    _globals = None
    _restricted = None


def batos_api() -> SimpleNamespace:
    """The `batos` object visible to methods: the kernel operations of the object model."""
    return SimpleNamespace(**_api_names())


def _api_names() -> dict[str, Any]:
    names = _kernel_names()
    names.update((name, make()) for name, make in _provided.items())
    return names


def _kernel_names() -> dict[str, Any]:
    from batos_core.objects import uvm_object as uo
    from batos_core.objects.errors import SlotNotFound
    from batos_core.objects.printing import print_string

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
    )


def method_globals() -> dict[str, Any]:
    """The shared base globals for compiled methods (copied per method)."""
    global _globals
    built = _globals  # read once: `provide_api` may drop it meanwhile
    if built is None:
        with _lock:
            if _globals is None:
                _globals = {
                    "__builtins__": builtins,
                    "__name__": "batos.methods",
                    "batos": batos_api(),
                }
            built = _globals
    return built


def restricted_namespace() -> RestrictedNamespace:
    """The restricted namespace of this process: the allow-listed modules as
    frozen proxies, the `batos` API frozen, batos objects writable."""
    global _restricted
    built = _restricted  # read once: `provide_api` may drop it meanwhile
    if built is None:
        with _lock:
            if _restricted is None:
                from batos_core.objects.uvm_object import UvmObject
                from batos_core.sandbox.allowlist import METHOD_MODULES
                from batos_core.sandbox.namespace import RestrictedNamespace

                _restricted = RestrictedNamespace(METHOD_MODULES, _api_names(), writable=(UvmObject,))
            built = _restricted
    return built
