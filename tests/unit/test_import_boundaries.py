"""The layers of batos hold: who may import whom, read from the source.

The check is static: every ``.py`` file of ``batos_core`` and ``batos_cli``
is parsed (nothing is imported or run), and each import it can make is
followed, transitively, through batos' own modules:

- ``import a.b`` and ``from a.b import c`` anywhere in a file: at module
  level, inside functions, under ``if TYPE_CHECKING:`` (a type dependency
  is a dependency), relative ones resolved against the file's package;
- importing ``a.b.c`` also runs the ``__init__`` of ``a`` and ``a.b``;
  ``from a import b`` reaches the submodule ``a.b`` when there is one;
- ``importlib.import_module("a.b")`` with a literal name, and a package's
  lazy ``import_module(f"{__name__}.{name}")``, which reaches the submodules
  its source names in strings (its table of lazy exports).

A rule names the modules it starts from and the names they must never
reach; a failure prints the chain of imports that reaches one. The rules:

- the CLI never loads the daemon's, the image's or the models' libraries,
  nor the JIT or the daemon (it talks to a daemon over the wire only); what
  it shares with them (``places``, ``daemon_config``, ``models``,
  ``settings``) is standard library only;
- ``image`` and ``objects`` (the storage and the object model) know no
  feature above them: daemon, jit, selfsyntax, autotelic, upgrade, nor
  ``world`` (the storage servers and what daemons share through them). The
  image's rule follows its imports up to the object model, whose own rule
  takes over from there;
- ``methods`` (installing a method, the change log) sits below the JIT: it
  reaches no feature and no ``world``;
- ``jit`` never imports ``daemon``;
- the packages of ``batos_core`` form no cycle (a top-level module such as
  ``settings.py`` is a package of its own).
"""

from __future__ import annotations

import ast
from collections import deque
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("batos_core", "batos_cli")


@cache
def module_files() -> dict[str, tuple[Path, bool]]:
    """Every module of batos by dotted name: its file and whether it is a package."""
    found: dict[str, tuple[Path, bool]] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            is_package = parts[-1] == "__init__"
            found[".".join(parts[:-1] if is_package else parts)] = (path, is_package)
    return found


def _with_parents(name: str) -> set[str]:
    parts = name.split(".")
    return {".".join(parts[:i]) for i in range(1, len(parts) + 1)}


def _absolute(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    package = module.split(".") if is_package else module.split(".")[:-1]
    base = package[: len(package) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _dynamic_imports(module: str, is_package: bool, call: ast.Call) -> set[str]:
    """What ``importlib.import_module(...)`` with a name known from the source reaches."""
    func = call.func
    if not (isinstance(func, ast.Attribute) and func.attr == "import_module" and call.args):
        return set()
    arg = call.args[0]
    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
        return {arg.value}
    if is_package and isinstance(arg, ast.JoinedStr) and arg.values:
        head = arg.values[0]
        if isinstance(head, ast.FormattedValue) and isinstance(head.value, ast.Name):
            if head.value.id == "__name__":
                return _named_submodules(module)
    return set()


def _named_submodules(package: str) -> set[str]:
    """The submodules of `package` whose names its ``__init__`` spells as strings."""
    path = module_files()[package][0]
    strings = {
        node.value
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    }
    return {f"{package}.{name}" for name in strings if f"{package}.{name}" in module_files()}


@cache
def direct_imports(module: str) -> frozenset[str]:
    """Every name `module`'s source may import (batos' own and third-party)."""
    path, is_package = module_files()[module]
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                names |= _with_parents(alias.name)
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(module, is_package, node)
            names |= _with_parents(base)
            submodules = {f"{base}.{alias.name}" for alias in node.names}
            names |= submodules & module_files().keys()
        elif isinstance(node, ast.Call):
            for name in _dynamic_imports(module, is_package, node):
                names |= _with_parents(name)
    names.discard(module)
    return frozenset(names)


def import_chain(start: str, forbidden: tuple[str, ...], stop_at: tuple[str, ...] = ()) -> list[str] | None:
    """The shortest chain of imports from `start` to a forbidden name, or None.

    A name is forbidden when it is one of `forbidden` or lies under one.
    Only batos' own modules are followed further, and not those under
    `stop_at` (a layer with a rule of its own).
    """
    came_from: dict[str, str | None] = {start: None}
    queue = deque([start])
    while queue:
        current = queue.popleft()
        if _under(current, forbidden):
            chain = [current]
            while (previous := came_from[chain[-1]]) is not None:
                chain.append(previous)
            return chain[::-1]
        if current not in module_files() or (current != start and _under(current, stop_at)):
            continue
        for name in sorted(direct_imports(current)):
            if name not in came_from:
                came_from[name] = current
                queue.append(name)
    return None


def _under(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == prefix or name.startswith(prefix + ".") for prefix in prefixes)


def violations(
    starts: tuple[str, ...], forbidden: tuple[str, ...], stop_at: tuple[str, ...] = ()
) -> list[str]:
    """One chain (``a -> b -> c``) for each module under `starts` that reaches a forbidden name."""
    found = []
    for module in sorted(module_files()):
        if _under(module, starts):
            chain = import_chain(module, forbidden, stop_at)
            if chain is not None:
                found.append(" -> ".join(chain))
    return found


CLI_FORBIDDEN = (
    "ZODB", "persistent", "transaction", "BTrees", "torch", "transformers", "kivy",
    "llama_cpp", "numpy", "gguf", "batos_core.jit", "batos_core.daemon",
)  # fmt: skip
FEATURES = (
    "batos_core.daemon", "batos_core.jit", "batos_core.selfsyntax", "batos_core.autotelic",
    "batos_core.upgrade",
)  # fmt: skip


def test_the_cli_imports_no_daemon_jit_storage_or_model_library() -> None:
    assert violations(("batos_cli",), CLI_FORBIDDEN) == []


def test_what_the_cli_shares_with_the_daemon_is_standard_library_only() -> None:
    """Places, a daemon's settings and models on disk (a pull from the hub imports its client)."""
    shared = ("batos_core.places", "batos_core.daemon_config", "batos_core.models", "batos_core.settings")
    heavy = (*CLI_FORBIDDEN, "pydantic", "zmq", "batos_core.image", "batos_core.objects")
    assert violations(shared, heavy) == []


def test_the_image_knows_no_feature_above_it_nor_the_world_servers() -> None:
    # What the image reaches through the object model is the next rule's: together
    # they say that nothing the image imports, however indirectly, is a feature.
    forbidden = (*FEATURES, "batos_core.world")
    assert violations(("batos_core.image",), forbidden, stop_at=("batos_core.objects",)) == []


def test_the_object_model_knows_no_feature_above_it() -> None:
    assert violations(("batos_core.objects",), (*FEATURES, "batos_core.world")) == []


def test_installing_methods_and_the_change_log_sit_below_the_jit() -> None:
    forbidden = (*FEATURES, "batos_core.world")
    assert violations(("batos_core.methods",), forbidden) == []


def test_the_jit_never_imports_the_daemon() -> None:
    assert violations(("batos_core.jit",), ("batos_core.daemon",)) == []


def package_of(module: str) -> str | None:
    """The package of batos_core a module belongs to (its first name under batos_core)."""
    parts = module.split(".")
    return parts[1] if parts[0] == "batos_core" and len(parts) > 1 else None


def package_graph() -> dict[str, set[str]]:
    """Package -> the packages of batos_core its modules import directly."""
    graph: dict[str, set[str]] = {}
    for module in module_files():
        source = package_of(module)
        if source is None:
            continue
        targets = {package_of(name) for name in direct_imports(module) if name in module_files()}
        graph.setdefault(source, set()).update(t for t in targets if t is not None and t != source)
    return graph


def package_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one package (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while (member := stack.pop()) != node:
                group.append(member)
            group.append(node)
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def test_the_packages_of_batos_core_form_no_cycle() -> None:
    assert package_cycles(package_graph()) == []


# The checker itself: each rule above can fail.


def test_the_checker_follows_imports_inside_functions_and_relative_ones() -> None:
    source = "def later():\n    from ..places import state_dir\n"
    node = next(n for n in ast.walk(ast.parse(source)) if isinstance(n, ast.ImportFrom))
    assert _absolute("batos_core.daemon.lifecycle", False, node) == "batos_core.places"
    assert _absolute("batos_core.daemon", True, node) == "batos_core.places"
    # lifecycle imports the Daemon inside main().
    assert "batos_core.daemon.server" in direct_imports("batos_core.daemon.lifecycle")


def test_the_checker_reports_a_chain_through_batos_modules() -> None:
    chain = import_chain("batos_core.daemon.lifecycle", ("ZODB",))
    assert chain is not None and chain[0] == "batos_core.daemon.lifecycle" and chain[-1].startswith("ZODB")


def test_the_checker_finds_a_cycle() -> None:
    assert package_cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
