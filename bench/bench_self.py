"""Self-language benchmark: methods written in Self vs the same logic in Python.

Prints medians and ratios measured in the same run:

* a Self method (slot reads through the implicit receiver, arithmetic, an
  inlined conditional) vs the same logic hand-written in Python and
  installed as a Method, restricted like the Self one (``trusted=False``)
  and trusted (plain Python); the second call through ``send`` in process
  [target: Self within 1.5x of restricted Python];
* the same pair sent through a real daemon (``send_request`` round trips)
  [target: within 1.5x];
* ``1 to: 100000 do: [ :i | s := s + i ]`` inside a Self method vs the same
  loop in a restricted Python method [target: under 3x]; and the same loop
  with its block in a variable, so ``to:do:`` is really sent to the Self
  method in ``traits number`` (for information).

In process, the image is a real ZODB (MappingStorage) with every migration
applied (the standard protocol included). Run: ``python bench/bench_self.py``.
"""

from __future__ import annotations

import os
import select
import statistics
import subprocess
import sys
import tempfile
import time
import timeit
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import transaction
import ZODB

from batos_core.image_format import MIGRATIONS
from batos_core.objects import Method, UvmObject, send, set_slot
from batos_core.protocol.builders import create_method_request, eval_request, send_request, shutdown_request
from batos_core.protocol.client import Client
from batos_core.protocol.connection import read_connection_file
from batos_core.selfsyntax import world
from batos_core.selfsyntax.evaluator import evaluate

REPEATS = 9
NUMBER = 20_000
LOOP_N = 100_000
DAEMON_CALLS = 300

AREA_SELF = (
    "area: k = ( | w h | w := width * k. h := height * k."
    " w > h ifTrue: [ w * h + w ] ifFalse: [ w * h + h ] )"
)
AREA_PY = (
    "def {name}(self, k):\n    w = self.width * k\n    h = self.height * k\n"
    "    if w > h:\n        return w * h + w\n    return w * h + h\n"
)
SUM_SELF = "sumTo: n = ( | s | s := 0. 1 to: n do: [ :i | s := s + i ]. s )"
SUM_SENT = "sumSent: n = ( | s b | s := 0. b := [ :i | s := s + i ]. 1 to: n do: b. s )"
SUM_PY = "def {name}(self, n):\n    s = 0\n    for i in range(1, n + 1):\n        s = s + i\n    return s\n"


def python_method(template: str, name: str, *, trusted: bool) -> Method:
    provenance: dict[str, Any] = {"author": "bench"}
    if trusted:
        provenance["trusted"] = True
    return Method(name, template.format(name=name), provenance)


def best_ns(call: Callable[[], Any], number: int) -> float:
    return min(timeit.Timer(call).repeat(3, number)) / number * 1e9


def alternate(calls: dict[str, Callable[[], Any]], number: int) -> dict[str, float]:
    """Median ns per call of each, the candidates alternated REPEATS times."""
    samples: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(REPEATS):
        for name, call in calls.items():
            samples[name].append(best_ns(call, number))
    return {name: statistics.median(values) for name, values in samples.items()}


def in_process() -> tuple[dict[str, float], dict[str, float]]:
    db = ZODB.DB(None)
    manager = transaction.TransactionManager()
    conn = db.open(transaction_manager=manager)
    with manager:
        for _number, _title, migrate in MIGRATIONS:
            migrate(conn.root())
    lobby = conn.root()["lobby"]
    box = UvmObject(width=3, height=4)
    set_slot(lobby, "box", box)
    methods = f"box _AddSlots: (| {AREA_SELF}. {SUM_SELF}. {SUM_SENT} |)"
    evaluate(methods, lobby=lobby, variables={}, resolve_oid=conn.get)
    box.areaPy_ = python_method(AREA_PY, "areaPy_", trusted=False)
    box.areaTrusted_ = python_method(AREA_PY, "areaTrusted_", trusted=True)
    box.sumPy_ = python_method(SUM_PY, "sumPy_", trusted=False)
    box.sumTrusted_ = python_method(SUM_PY, "sumTrusted_", trusted=True)
    with world.entered(lobby):
        for selector in ("area_", "areaPy_", "areaTrusted_"):
            assert send(box, selector, 5) == 320, selector
        for selector in ("sumTo_", "sumSent_", "sumPy_", "sumTrusted_"):
            assert send(box, selector, LOOP_N) == LOOP_N * (LOOP_N + 1) // 2, selector
        area = alternate(
            {
                "self": lambda: send(box, "area_", 5),
                "python": lambda: send(box, "areaPy_", 5),
                "trusted": lambda: send(box, "areaTrusted_", 5),
            },
            NUMBER,
        )
        loop = alternate(
            {
                "self": lambda: send(box, "sumTo_", LOOP_N),
                "sent": lambda: send(box, "sumSent_", LOOP_N),
                "python": lambda: send(box, "sumPy_", LOOP_N),
                "trusted": lambda: send(box, "sumTrusted_", LOOP_N),
            },
            1,
        )
    manager.abort()
    conn.close()
    db.close()
    return area, loop


class Daemon:
    """A daemon on a private image, started the way the CLI does (ready pipe)."""

    def __init__(self, root: Path) -> None:
        runtime = root / "run"
        runtime.mkdir(mode=0o700)
        os.chmod(runtime, 0o700)
        image = root / "image.fs"
        env = dict(os.environ)
        env.update(
            BATOS_RUNTIME_DIR=str(runtime),
            BATOS_STATE_DIR=str(root / "state"),
            BATOS_DATA_DIR=str(root / "data"),
            BATOS_IMAGE=str(image),
            BATOS_CONFIG=str(root / "batos.toml"),
            BATOS_BACKEND="none",
        )
        read_end, write_end = os.pipe()
        args = ["--image", str(image), "--runtime-dir", str(runtime), "--ready-fd", str(write_end)]
        args += ["--log-file", str(root / "daemon.log"), "--log-level", "WARNING"]
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "batos_core.daemon", *args],
            pass_fds=(write_end,),
            env=env,
            stdin=subprocess.DEVNULL,
        )
        os.close(write_end)
        line = b""
        while not line.endswith(b"\n") and select.select([read_end], [], [], 60)[0]:
            chunk = os.read(read_end, 4096)
            if not chunk:
                break
            line += chunk
        os.close(read_end)
        if not line.startswith(b"ready "):
            self.proc.kill()
            self.proc.wait()
            raise SystemExit(f"daemon did not start: {line!r} (log: {root / 'daemon.log'})")
        from batos_core.daemon_config import DaemonConfig

        info = read_connection_file(DaemonConfig(image=str(image), runtime_dir=runtime).connection_path())
        self.client = Client.from_connection_info(info, timeout=60.0, retries=0)

    def request(self, message: Mapping[str, Any]) -> dict[str, Any]:
        reply = self.client.request(message)
        if reply["type"] == "error_reply":
            raise SystemExit(f"daemon refused {message['type']}: {reply}")
        return reply

    def stop(self) -> None:
        self.client.request(shutdown_request())
        self.client.close()
        self.proc.wait(60)


def through_daemon() -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="bench-self-") as tmp:
        daemon = Daemon(Path(tmp))
        try:
            daemon.request(eval_request(f"genesis _AddSlots: (| width = 3. height = 4. {AREA_SELF} |)"))
            source = AREA_PY.format(name="areaPy_")
            daemon.request(create_method_request("genesis", "areaPy_", source))
            source = AREA_PY.format(name="areaTrusted_")
            daemon.request(create_method_request("genesis", "areaTrusted_", source, trusted=True))
            samples: dict[str, list[float]] = {"self": [], "python": [], "trusted": []}
            selectors = {"self": "area:", "python": "areaPy:", "trusted": "areaTrusted:"}
            for selector in selectors.values():  # first calls: load and compile
                assert daemon.request(send_request("genesis", selector, [5]))["result"] == 320
            for _ in range(DAEMON_CALLS):
                for name, selector in selectors.items():
                    started = time.perf_counter()
                    daemon.request(send_request("genesis", selector, [5]))
                    samples[name].append((time.perf_counter() - started) * 1e6)
        finally:
            daemon.stop()
    return {name: statistics.median(values) for name, values in samples.items()}


def verdict(ratio: float, target: float) -> str:
    return f"{ratio:5.2f}x  {'ok' if ratio <= target else 'MISSED'} (target <= {target}x)"


def main() -> None:
    area, loop = in_process()
    remote = through_daemon()
    print(f"Self vs Python methods (medians; Python {sys.version.split()[0]})")
    print("1. second call through send, in process (ns/call)")
    print(f"   Python method, trusted              {area['trusted']:10.0f}")
    print(f"   Python method, restricted           {area['python']:10.0f}")
    ratio = area["self"] / area["python"]
    print(f"   Self method (compiled, restricted)  {area['self']:10.0f}  {verdict(ratio, 1.5)}")
    print(f"   Self vs trusted Python                          {area['self'] / area['trusted']:5.2f}x")
    print("2. the same sends through a real daemon (us/round trip)")
    print(f"   Python method, trusted              {remote['trusted']:10.1f}")
    print(f"   Python method, restricted           {remote['python']:10.1f}")
    ratio = remote["self"] / remote["python"]
    print(f"   Self method                         {remote['self']:10.1f}  {verdict(ratio, 1.5)}")
    print(f"3. 1 to: {LOOP_N} do: [ :i | s := s + i ] in a method (ms/call)")
    print(f"   Python for loop, trusted            {loop['trusted'] / 1e6:10.2f}")
    print(f"   Python for loop, restricted         {loop['python'] / 1e6:10.2f}")
    ratio = loop["self"] / loop["python"]
    print(f"   Self to:do: (inlined)               {loop['self'] / 1e6:10.2f}  {verdict(ratio, 3.0)}")
    ratio = loop["sent"] / loop["python"]
    sent = loop["sent"] / 1e6
    print(f"   Self to:do: sent to traits number   {sent:10.2f}  {ratio:5.2f}x  (a block in a variable)")


if __name__ == "__main__":
    main()
