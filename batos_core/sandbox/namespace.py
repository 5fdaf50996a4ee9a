"""The globals a restricted method runs with (standard library only).

One ``RestrictedNamespace`` per process (the daemon's, the trial child's):
its ``globals_for()`` gives each compiled method a fresh dict holding

* ``__builtins__``: an explicit allow-list (``SAFE_BUILTINS``) plus guarded
  ``getattr``/``setattr``/``delattr``/``hasattr``, a ``type`` that cannot make
  classes, and an ``__import__`` that answers module proxies. No ``open``,
  ``eval``/``exec``/``compile``, ``globals``/``locals``/``vars``, ``input``,
  ``breakpoint``, ``memoryview``, ``help`` or ``exit``;
* the names RestrictedPython's compiled code calls (``_getattr_``,
  ``_write_``, ``_getitem_``, ``_getiter_``, ``_inplacevar_``, ``_apply_``,
  ``_unpack_sequence_``, ``_iter_unpack_sequence_``, ``_print_``,
  ``__metaclass__``);
* ``batos``: the object-model API, frozen; and any extra globals the caller
  names (the trial's stubs).
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Mapping
from typing import Any

from batos_core.sandbox import guards
from batos_core.sandbox.modules import FrozenNamespace, ModuleTable

#: Builtins restricted code may use as they are.
SAFE_BUILTIN_NAMES = (
    "abs all any ascii bin bool bytearray bytes callable chr classmethod complex dict dir divmod "
    "enumerate filter float format frozenset hash hex id int isinstance issubclass iter len list "
    "map max min next object oct ord pow property range repr reversed round set slice sorted "
    "staticmethod str sum super tuple zip NotImplemented Ellipsis True False None __build_class__"
).split()


def _exception_names() -> list[str]:
    return [
        name
        for name, value in vars(builtins).items()
        if isinstance(value, type) and issubclass(value, BaseException) and not name.startswith("_")
    ]


def restricted_builtins(modules: ModuleTable) -> dict[str, Any]:
    """The ``__builtins__`` dict of restricted code."""
    names = {name: getattr(builtins, name) for name in SAFE_BUILTIN_NAMES}
    names.update({name: getattr(builtins, name) for name in _exception_names()})
    names.update(
        getattr=guards.guarded_getattr,
        setattr=guards.guarded_setattr,
        delattr=guards.guarded_delattr,
        hasattr=guards.guarded_hasattr,
        type=guards.SafeType,
        __import__=modules.guarded_import,
    )
    return names


class RestrictedNamespace:
    """Globals for restricted methods, built once per process.

    ``allowed_modules``: the allow-list (``sandbox.allowlist.METHOD_MODULES``); each
    module is imported now, in trusted code, and proxied. ``api``: the names
    of the ``batos`` global (functions and classes), frozen into one object.
    ``writable``: classes whose instances restricted code may change (the
    daemon's ``UvmObject``). The globals' ``__name__`` is
    ``guards.RESTRICTED_MODULE_NAME``: classes a method defines carry it.
    """

    def __init__(
        self,
        allowed_modules: Iterable[str],
        api: Mapping[str, Any],
        *,
        writable: Iterable[type] = (),
    ) -> None:
        for cls in writable:
            guards.allow_writes_to(cls)
        self.modules = ModuleTable(allowed_modules)
        self.builtins = restricted_builtins(self.modules)
        self.batos = FrozenNamespace("batos", dict(api))
        self._base: dict[str, Any] = {
            "__builtins__": self.builtins,
            "__name__": guards.RESTRICTED_MODULE_NAME,
            "__metaclass__": type,
            "_getattr_": guards.guarded_getattr,
            "_write_": guards.guarded_write,
            "_getitem_": guards.guarded_getitem,
            "_getiter_": guards.guarded_getiter,
            "_inplacevar_": guards.inplacevar,
            "_apply_": guards.guarded_apply,
            "_unpack_sequence_": guards.guarded_unpack_sequence,
            "_iter_unpack_sequence_": guards.guarded_iter_unpack_sequence,
            "_print_": guards.PrintCollector,
            "batos": self.batos,
        }

    def globals_for(self, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """A fresh globals dict for one method (its top-level imports land here)."""
        namespace = dict(self._base)
        if extra:
            namespace.update(extra)
        return namespace
