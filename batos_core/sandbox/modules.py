"""Frozen proxies of the allow-listed modules (standard library only).

A method never holds a module object: ``statistics.sys`` or
``fractions.sys.modules['os']`` would lead anywhere. ``import math`` in a
method binds a ``ModuleProxy`` that answers the module's public functions,
types and constants and nothing else:

* a name starting with ``_`` is absent;
* a module-valued attribute is present only as the proxy of an allow-listed
  module (``collections.abc``); ``statistics.sys`` is absent;
* a few public names that resolve attributes by string are replaced by
  guarded versions (``operator.attrgetter``, ``operator.methodcaller``) or
  absent (``string.Formatter``, whose ``get_field`` calls ``getattr``);
* nothing can be assigned to a proxy (``math.pi = 3`` is refused), and a
  module-level dict, list or set is exposed as a read-only copy, so no
  method changes what another sees.

``guarded_import`` is the ``__import__`` restricted code runs with: it
answers the proxy of an allow-listed module and refuses anything else with
``ImportError``. Proxies are built from modules already imported (the
namespace imports the allow-list when it is built), so a method never makes
the interpreter load a module.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterable
from types import MappingProxyType, ModuleType
from typing import Any

from batos_core.sandbox.guards import SandboxViolation, guarded_getattr


class ModuleProxy:
    """Read-only view of one module's public API."""

    __slots__ = ("_name", "_names")

    def __init__(self, name: str, names: dict[str, Any]) -> None:
        object.__setattr__(self, "_name", name)
        object.__setattr__(self, "_names", MappingProxyType(names))

    def __getattr__(self, attribute: str) -> Any:
        names = object.__getattribute__(self, "_names")
        if attribute.startswith("_") or attribute not in names:
            module = object.__getattribute__(self, "_name")
            raise AttributeError(f"module {module!r} has no public attribute {attribute!r} here")
        return names[attribute]

    def __setattr__(self, attribute: str, value: Any) -> None:
        raise SandboxViolation(f"module {object.__getattribute__(self, '_name')!r} is read-only")

    def __delattr__(self, attribute: str) -> None:
        raise SandboxViolation(f"module {object.__getattribute__(self, '_name')!r} is read-only")

    def __dir__(self) -> Iterable[str]:
        return sorted(object.__getattribute__(self, "_names"))

    def __repr__(self) -> str:
        return f"<restricted module {object.__getattribute__(self, '_name')!r}>"


class FrozenNamespace(ModuleProxy):
    """A read-only bag of names that is not a module (the ``batos`` API)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return f"<{object.__getattribute__(self, '_name')} API>"


def safe_attrgetter(*names: str) -> Callable[[Any], Any]:
    """``operator.attrgetter`` whose every dotted part goes through the guard."""

    for name in names:
        if not isinstance(name, str):
            raise TypeError("attribute name must be a string")

    def resolve(obj: Any, dotted: str) -> Any:
        for part in dotted.split("."):
            obj = guarded_getattr(obj, part)
        return obj

    if len(names) == 1:
        return lambda obj: resolve(obj, names[0])
    return lambda obj: tuple(resolve(obj, name) for name in names)


def safe_methodcaller(name: str, /, *args: Any, **kwargs: Any) -> Callable[[Any], Any]:
    """``operator.methodcaller`` through the guard."""
    if not isinstance(name, str):
        raise TypeError("method name must be a string")
    return lambda obj: guarded_getattr(obj, name)(*args, **kwargs)


#: Public names replaced or withheld, per module.
REPLACED: dict[str, dict[str, Any]] = {
    "operator": {"attrgetter": safe_attrgetter, "methodcaller": safe_methodcaller},
}
WITHHELD: dict[str, frozenset[str]] = {
    # Formatter.get_field resolves '{0.attr}' with a plain getattr.
    "string": frozenset({"Formatter"}),
    # They set __module__, __name__, __doc__ and __dict__ on any object given
    # as the wrapper: a daemon class, for every client after.
    "functools": frozenset({"update_wrapper", "wraps"}),
    # The worker thread's decimal context outlives the request; the shared
    # contexts are templates for every thread's.
    "decimal": frozenset({"setcontext", "getcontext", "DefaultContext", "BasicContext", "ExtendedContext"}),
}


#: Modules the C code of allow-listed functions imports on first use
#: (``datetime.strptime`` imports ``_strptime``). Loaded with the table, in
#: trusted code. When that C code asks for one during a method, it gets the
#: real module, which never reaches the method: an import statement cannot
#: name a module starting with ``_`` (the compiler refuses it).
INTERNAL_IMPORTS = frozenset({"_strptime"})


def _frozen(value: Any) -> Any:
    """A module-level container as a read-only copy (``json.decoder.BACKSLASH``
    is a dict the library itself reads: no method may change it for others)."""
    if isinstance(value, dict):
        return MappingProxyType(dict(value))
    if isinstance(value, list):
        return tuple(value)
    if isinstance(value, set):
        return frozenset(value)
    if isinstance(value, bytearray):
        return bytes(value)
    return value


class ModuleTable:
    """The proxies for one allow-list, built once, shared by every method."""

    def __init__(self, allowed: Iterable[str]) -> None:
        self._allowed = frozenset(allowed)
        self._proxies: dict[str, ModuleProxy] = {}
        for name in sorted(self._allowed):
            self.proxy(name)
        for name in sorted(INTERNAL_IMPORTS):  # loaded now, in trusted code, not by the hook-watched method
            importlib.import_module(name)

    def allows(self, module: str) -> bool:
        """Whether ``module`` (dotted) is an allow-listed module or inside one."""
        return any(module == root or module.startswith(root + ".") for root in self._allowed)

    def proxy(self, name: str) -> ModuleProxy:
        """The proxy of allow-listed module ``name`` (importing it, in trusted code, once)."""
        found = self._proxies.get(name)
        if found is None:
            found = self._build(importlib.import_module(name))
        return found

    def _build(self, module: ModuleType) -> ModuleProxy:
        name = module.__name__
        proxy = ModuleProxy(name, {})  # registered first: modules may refer to each other
        self._proxies[name] = proxy
        names: dict[str, Any] = {}
        withheld = WITHHELD.get(name, frozenset())
        for attribute, value in vars(module).items():
            if attribute.startswith("_") or attribute in withheld:
                continue
            if isinstance(value, ModuleType):
                if not self.allows(value.__name__):
                    continue
                value = self.proxy(value.__name__)
            names[attribute] = _frozen(value)
        names.update(REPLACED.get(name, {}))
        object.__setattr__(proxy, "_names", MappingProxyType(names))
        return proxy

    def guarded_import(
        self,
        name: str,
        globals: Any = None,
        locals: Any = None,
        fromlist: Any = (),
        level: int = 0,
    ) -> ModuleProxy:
        """``__import__`` for restricted code: a proxy, or ImportError."""
        if level:
            raise ImportError("relative imports are not allowed in a method")
        if name in INTERNAL_IMPORTS:
            return sys.modules[name]  # type: ignore[return-value]
        if not isinstance(name, str) or not self.allows(name):
            raise ImportError(f"import of {name} is not allowed in a method")
        proxy = self._proxies.get(name)
        if proxy is None:
            if name not in self._imported():
                raise ImportError(
                    f"import of {name} is not allowed in a method (not a loaded library module)"
                )
            proxy = self.proxy(name)
        if fromlist:
            return proxy
        return self._proxies[name.split(".")[0]]

    @staticmethod
    def _imported() -> frozenset[str]:
        return frozenset(sys.modules)
