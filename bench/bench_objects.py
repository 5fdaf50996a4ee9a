"""Object-model benchmark: slot reads and delegated method calls vs plain Python.

Prints medians (ns per operation) and ratios against raw baselines measured
in the same run:

* local data-slot read vs a plain attribute read;
* a method found N parents up (N = 1, 5, 10) vs a plain bound-method call;
* the naive design (``__getattr__`` + ``PersistentMapping``) for comparison.

All objects live in a real ZODB connection (MappingStorage) so persistent's
access bookkeeping is included. Run: ``python bench/bench_objects.py``.
"""

from __future__ import annotations

import statistics
import sys
import timeit
from pathlib import Path
from types import MethodType
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import persistent
import transaction
import ZODB
from persistent.mapping import PersistentMapping

from batos_core.objects import Method, UvmObject

REPEATS = 9
NUMBER = 200_000


class Plain:
    def __init__(self) -> None:
        self.x = 1

    def foo(self) -> int:
        return 1


class NaiveObject(persistent.Persistent):
    """What a first attempt looks like: slots in a PersistentMapping, __getattr__ delegation."""

    def __init__(self, **slots: Any) -> None:
        self._slots = PersistentMapping(slots)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        slots = self._slots
        if name in slots:
            value = slots[name]
            return MethodType(value.function, self) if isinstance(value, Method) else value
        parent = slots.get("parent")
        if parent is None:
            raise AttributeError(name)
        value = getattr(parent, name)
        # Self binding, done the naive way: rebind the parent's method to self.
        return MethodType(value.__func__, self) if isinstance(value, MethodType) else value


def median_ns(stmt: str, env: dict[str, Any]) -> float:
    timer = timeit.Timer(stmt, globals=env)
    runs = timer.repeat(repeat=REPEATS, number=NUMBER)
    return statistics.median(runs) / NUMBER * 1e9


def chain(depth: int, conn: Any) -> UvmObject:
    top = UvmObject()
    top.foo = Method("foo", "def foo(self):\n    return 1\n")
    current = top
    for _ in range(depth):
        current = UvmObject(**{"parent*": current})
    conn.root()[f"chain{depth}"] = current
    return current


def main() -> None:
    db = ZODB.DB(None)
    conn = db.open()
    plain = Plain()
    obj = UvmObject(x=1)
    conn.root()["obj"] = obj
    receivers = {d: chain(d, conn) for d in (1, 5, 10)}
    naive_parent = NaiveObject(foo=Method("foo", "def foo(self):\n    return 1\n"))
    naive = NaiveObject(x=1, parent=naive_parent)
    conn.root()["naive"] = naive
    transaction.commit()

    env: dict[str, Any] = {"plain": plain, "obj": obj, "naive": naive}
    env.update({f"r{d}": r for d, r in receivers.items()})
    for r in receivers.values():
        r.foo()  # warm the lookup cache, as any second call would

    attr = median_ns("plain.x", env)
    call = median_ns("plain.foo()", env)
    rows = [
        ("plain attribute read", attr, attr, "baseline"),
        ("plain bound-method call", call, call, "baseline"),
        ("batos local data slot", median_ns("obj.x", env), attr, "target <= 20x"),
        ("naive local data slot", median_ns("naive.x", env), attr, "for comparison"),
    ]
    for depth in (1, 5, 10):
        rows.append((f"batos method, depth {depth}", median_ns(f"r{depth}.foo()", env), call,
                     "target <= 10x" if depth == 1 else ""))
    rows.append(("naive method, depth 1", median_ns("naive.foo()", env), call, "for comparison"))

    print(f"{'operation':32} {'median ns':>10} {'ratio':>8}  note")
    for name, ns, base, note in rows:
        print(f"{name:32} {ns:10.1f} {ns / base:7.2f}x  {note}")
    conn.close()
    db.close()


if __name__ == "__main__":
    main()
