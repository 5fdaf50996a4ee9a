"""Object-model benchmark: slot reads and delegated method calls vs plain Python.

Prints medians (ns per operation) and ratios against raw baselines measured
in the same run:

* local data-slot read vs a plain attribute read;
* a method found N parents up (N = 1, 5, 10) vs a plain bound-method call;
* the naive design (``__getattr__`` + ``PersistentMapping``) for comparison;
* restricted execution (``batos_core.sandbox``): a method of 100 slot reads and
  arithmetic, its second call as a restricted (generated) method vs the same
  body installed ``trusted`` (plain Python), alternated in one process
  [target: within 2x];
* the audit hook: a read-only send (begin, send a restricted method that reads
  a slot, abort) timed in child processes with the hook installed and
  without, alternated [target: within 5 %]. A hook cannot be removed, so
  each side runs in its own interpreter.

All objects live in a real ZODB connection (MappingStorage) so persistent's
access bookkeeping is included. Run: ``python bench/bench_objects.py``.
"""

from __future__ import annotations

import statistics
import subprocess
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


SLOT_NAMES = "abcdefghij"


def hundred_reads_source(selector: str) -> str:
    """A method body of 100 slot reads and arithmetic."""
    lines = [f"def {selector}(self):", "    t = 0"]
    lines += [f"    t = t + self.{SLOT_NAMES[i % 10]} * {i % 7 + 1}" for i in range(100)]
    return "\n".join([*lines, "    return t", ""])


def restricted_rows(conn: Any) -> list[tuple[str, float, float, str]]:
    """Restricted vs trusted, the same body, alternated; medians of the pairs."""
    obj = UvmObject(**{name: i for i, name in enumerate(SLOT_NAMES)})
    obj.generated = Method("generated", hundred_reads_source("generated"))
    obj.handWritten = Method("handWritten", hundred_reads_source("handWritten"), {"trusted": True})
    conn.root()["sandboxed"] = obj
    transaction.commit()
    assert obj.generated() == obj.handWritten()  # first calls compile; the second is timed
    env = {"obj": obj}
    number = NUMBER // 100
    restricted, trusted = [], []
    for _ in range(REPEATS):
        trusted.append(min(timeit.Timer("obj.handWritten()", globals=env).repeat(3, number)) / number * 1e9)
        restricted.append(min(timeit.Timer("obj.generated()", globals=env).repeat(3, number)) / number * 1e9)
    base = statistics.median(trusted)
    return [
        ("trusted method, 100 slot reads", base, base, "baseline (plain Python)"),
        ("restricted method, same body", statistics.median(restricted), base, "target <= 2x"),
    ]


AUDIT_CHILD_SENDS = 20_000


def audit_child(hook: bool) -> None:
    """Child mode: median ns of a read-only send, with or without the audit hook."""
    from batos_core.objects import send
    from batos_core.objects.namespace import restricted_namespace
    from batos_core.sandbox import audit

    restricted_namespace()
    if hook:
        audit.install()
    db = ZODB.DB(None)
    tm = transaction.TransactionManager()
    conn = db.open(tm)
    obj = UvmObject(x=3, readX=Method("readX", "def readX(self):\n    return self.x\n"))
    conn.root()["genesis"] = obj
    tm.commit()

    def one_send() -> None:
        tm.begin()
        send(conn.root()["genesis"], "readX")
        tm.abort()

    one_send()
    runs = timeit.Timer(one_send).repeat(REPEATS, AUDIT_CHILD_SENDS)
    print(statistics.median(runs) / AUDIT_CHILD_SENDS * 1e9)


def audit_rows() -> list[tuple[str, float, float, str]]:
    def child(flag: str) -> float:
        done = subprocess.run(
            [sys.executable, __file__, "--audit-child", flag], capture_output=True, text=True, check=True
        )
        return float(done.stdout.split()[-1])

    without, with_hook = [], []
    for _ in range(3):  # alternated, so drift in machine load hits both
        without.append(child("off"))
        with_hook.append(child("on"))
    base = statistics.median(without)
    return [
        ("read-only send, no audit hook", base, base, "baseline"),
        ("read-only send, audit hook", statistics.median(with_hook), base, "target <= 1.05x"),
    ]


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
        rows.append(
            (
                f"batos method, depth {depth}",
                median_ns(f"r{depth}.foo()", env),
                call,
                "target <= 10x" if depth == 1 else "",
            )
        )
    rows.append(("naive method, depth 1", median_ns("naive.foo()", env), call, "for comparison"))
    rows += restricted_rows(conn)
    rows += audit_rows()

    print(f"{'operation':32} {'median ns':>10} {'ratio':>8}  note")
    for name, ns, base, note in rows:
        print(f"{name:32} {ns:10.1f} {ns / base:7.2f}x  {note}")
    conn.close()
    db.close()


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--audit-child":
        audit_child(sys.argv[2] == "on")
    else:
        main()
