"""Daemon round-trip benchmark: batos requests against the ceilings of its own parts, in the same run.

Prints medians and ratios against ceilings measured in this run (targets in
brackets, from issue 16; a miss is printed, not hidden):

1. latency: a read-only ``send genesis x`` through a real daemon against the
   same msgpack echo through a bare asyncio loop + 4 worker threads (the
   daemon's shape before its workers received their own requests, without
   any batos code; issue 16 states the target against it)      [ratio <= 1.5];
   also shown: raw pyzmq DEALER/ROUTER echo (no loop, no threads)
2. commits/s: committing ``send genesis increment`` with 1 client and with 8
   clients on 8 distinct objects against a bare pyzmq server that commits one
   object per message in FileStorage (no signing, validation, dispatch or
   reply table), with as many clients                  [each >= 60% of it];
   also shown: raw FileStorage commits of one object in one thread
3. whole process: ``batos send genesis printString`` vs
   ``python -c "import zmq, ormsgpack"``                       [ratio <= 1.6]
4. ``batos --help`` wall time                                   [< 100 ms]

Everything runs under a temporary directory (BATOS_* point there). Run:
``.venv/bin/python bench/bench_roundtrip.py [--quick] [--daemon-only]``
(``--daemon-only``: parts 1 and 2). Not a test.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import os
import resource
import select
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import ormsgpack
import zmq

from batos_core.protocol.builders import create_method_request, send_request
from batos_core.protocol.client import Client
from batos_core.protocol.connection import read_connection_file

INCREMENT_SOURCE = "def increment(self):\n    self.counter = self.counter + 1\n    return self.counter\n"
BIN = Path(sys.executable).parent

# A ROUTER that answers each message with handle(message), until b"stop"; the
# servers below define handle and what it needs before it.
ROUTER_LOOP = r"""
ctx = zmq.Context()
sock = ctx.socket(zmq.ROUTER)
sock.bind(sys.argv[1])
sys.stdout.write("ready\n"); sys.stdout.flush()
while True:
    identity, body = sock.recv_multipart()
    if body == b"stop":
        break
    reply = handle(ormsgpack.unpackb(body))
    sock.send_multipart([identity, ormsgpack.packb(reply, option=ormsgpack.OPT_SORT_KEYS)])
sock.close(); ctx.term()
"""

RAW_SERVER = (
    r"""
import sys, ormsgpack, zmq
def handle(message):
    return {"type": "send_reply", "id": message["id"], "result": 3}
"""
    + ROUTER_LOOP
)

# A round trip that commits, without batos code: one thread receives, increments
# one of 8 counters in FileStorage, commits, replies. What a committing `send`
# costs at the least (no signing, validation, dispatch, reply table).
COMMIT_SERVER = (
    r"""
import sys, ormsgpack, transaction, zmq, ZODB, ZODB.FileStorage
from persistent.mapping import PersistentMapping
db = ZODB.DB(ZODB.FileStorage.FileStorage(sys.argv[2]))
tm = transaction.TransactionManager()
root = db.open(tm).root()
for i in range(8):
    root[f"obj{i}"] = PersistentMapping(counter=0)
tm.commit()
def handle(message):
    obj = root[message["receiver"]]
    obj["counter"] += 1
    tm.commit()
    return {"type": "send_reply", "id": message["id"], "result": obj["counter"]}
"""
    + ROUTER_LOOP
    + "db.close()\n"
)

# The daemon's shape without batos code: an asyncio ROUTER hands each request to
# a worker thread (queue.Queue) whose reply comes back via call_soon_threadsafe.
HANDOFF_SERVER = r"""
import asyncio, queue, sys, threading, ormsgpack, zmq, zmq.asyncio

async def main():
    ctx = zmq.asyncio.Context()
    sock = ctx.socket(zmq.ROUTER)
    sock.bind(sys.argv[1])
    loop = asyncio.get_running_loop()
    jobs = queue.Queue()

    def work():
        while (item := jobs.get()) is not None:
            identity, body = item
            message = ormsgpack.unpackb(body)
            reply = {"type": "send_reply", "id": message["id"], "result": 3}
            frames = [identity, ormsgpack.packb(reply, option=ormsgpack.OPT_SORT_KEYS)]
            loop.call_soon_threadsafe(sock.send_multipart, frames)

    workers = [threading.Thread(target=work, daemon=True) for _ in range(4)]
    for worker in workers:
        worker.start()
    sys.stdout.write("ready\n"); sys.stdout.flush()
    while True:
        identity, body = await sock.recv_multipart()
        if body == b"stop":
            break
        jobs.put((identity, body))
    sock.close(linger=0)

asyncio.run(main())
"""


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f}"


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1e3


# -- environment ------------------------------------------------------------


class World:
    """Private BATOS_* directories and a daemon started the way the CLI does (ready pipe)."""

    def __init__(self, root: Path, workers: int | None = None) -> None:
        self.root = root
        self.workers = workers
        self.runtime = root / "run"
        self.runtime.mkdir(mode=0o700)
        os.chmod(self.runtime, 0o700)
        self.image = root / "image.fs"
        self.env = dict(os.environ)
        self.env.update(
            BATOS_RUNTIME_DIR=str(self.runtime),
            BATOS_STATE_DIR=str(root / "state"),
            BATOS_DATA_DIR=str(root / "data"),
            BATOS_IMAGE=str(self.image),
            BATOS_CONFIG=str(root / "batos.toml"),
            BATOS_BACKEND="none",
        )
        self.proc: subprocess.Popen[bytes] | None = None
        self.info: Any = None

    def start_daemon(self) -> None:
        read_end, write_end = os.pipe()
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "batos_core.daemon",
                "--image",
                str(self.image),
                "--runtime-dir",
                str(self.runtime),
                "--ready-fd",
                str(write_end),
                "--log-file",
                str(self.root / "daemon.log"),
                "--log-level",
                "WARNING",
                *(["--workers", str(self.workers)] if self.workers else []),
            ],
            pass_fds=(write_end,),
            env=self.env,
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
            raise SystemExit(f"daemon did not start: {line!r} (log: {self.root / 'daemon.log'})")
        from batos_core.daemon_config import DaemonConfig

        config = DaemonConfig(image=str(self.image), runtime_dir=self.runtime)
        self.info = read_connection_file(config.connection_path())

    def client(self) -> Client:
        return Client.from_connection_info(self.info, timeout=60.0, retries=0)

    def stop_daemon(self) -> None:
        from batos_core.protocol.builders import shutdown_request

        if self.proc is None:
            return
        if self.info is not None and self.proc.poll() is None:
            with self.client() as client:
                client.request(shutdown_request())
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None


# -- 1. latency ---------------------------------------------------------------


def raw_roundtrip(root: Path, n: int, server_source: str = RAW_SERVER) -> list[float]:
    endpoint = f"ipc://{root}/raw.sock"
    server = subprocess.Popen([sys.executable, "-c", server_source, endpoint], stdout=subprocess.PIPE)
    assert server.stdout is not None
    server.stdout.readline()
    ctx = zmq.Context()
    sock = ctx.socket(zmq.DEALER)
    sock.connect(endpoint)
    samples = []
    for i in range(n):
        message = send_request("genesis", "x", request_id=f"{i:032x}")
        start = time.perf_counter()
        sock.send(ormsgpack.packb(message, option=ormsgpack.OPT_SORT_KEYS))
        reply = ormsgpack.unpackb(sock.recv())
        samples.append(time.perf_counter() - start)
        assert reply["id"] == message["id"]
    sock.send(b"stop")
    server.wait(30)
    sock.close(linger=0)
    ctx.term()
    return samples


def batos_roundtrip(world: World, n: int) -> list[float]:
    samples = []
    with world.client() as client:
        for _ in range(n):
            message = send_request("genesis", "x")
            start = time.perf_counter()
            reply = client.request(message)
            samples.append(time.perf_counter() - start)
            assert reply["type"] == "send_reply", reply
    return samples


# -- 2. commits -------------------------------------------------------------------


def raw_commit_rate(root: Path, seconds: float) -> float:
    import transaction
    import ZODB
    import ZODB.FileStorage
    from persistent.mapping import PersistentMapping

    db = ZODB.DB(ZODB.FileStorage.FileStorage(str(root / "raw.fs")))
    tm = transaction.TransactionManager()
    conn = db.open(tm)
    conn.root()["obj"] = PersistentMapping(counter=0)
    tm.commit()
    obj = conn.root()["obj"]
    count = 0
    deadline = time.perf_counter() + seconds
    start = time.perf_counter()
    while time.perf_counter() < deadline:
        obj["counter"] += 1
        tm.commit()
        count += 1
    elapsed = time.perf_counter() - start
    conn.close()
    db.close()
    return count / elapsed


def clients_rate(count: int, seconds: float, open_client: Callable[[int], Any]) -> float:
    """Requests/s of `count` client threads over `seconds`. ``open_client(i)`` is
    a context manager (entered in the client's thread) giving a function that
    sends one request and checks its reply."""
    counts = [0] * count
    barrier = threading.Barrier(count + 1)
    stop_at = [0.0]

    def hammer(index: int) -> None:
        with open_client(index) as one:
            barrier.wait()
            while time.perf_counter() < stop_at[0]:
                one()
                counts[index] += 1

    threads = [threading.Thread(target=hammer, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    stop_at[0] = time.perf_counter() + seconds
    start = time.perf_counter()
    barrier.wait()
    for thread in threads:
        thread.join()
    return sum(counts) / (time.perf_counter() - start)


def raw_commit_roundtrip_rate(root: Path, clients: int, seconds: float) -> float:
    """Committing round trips/s through COMMIT_SERVER, `clients` DEALERs on distinct objects."""
    endpoint = f"ipc://{root}/commit.sock"
    server = subprocess.Popen(
        [sys.executable, "-c", COMMIT_SERVER, endpoint, str(root / f"commit-{clients}.fs")],
        stdout=subprocess.PIPE,
    )
    assert server.stdout is not None
    server.stdout.readline()
    ctx = zmq.Context()

    @contextlib.contextmanager
    def dealer(index: int) -> Iterator[Callable[[], None]]:
        sock = ctx.socket(zmq.DEALER)
        sock.connect(endpoint)
        sent = itertools.count()

        def one() -> None:
            message = {"id": f"{next(sent):032x}", "receiver": f"obj{index}"}
            sock.send(ormsgpack.packb(message))
            assert ormsgpack.unpackb(sock.recv())["id"] == message["id"]

        try:
            yield one
        finally:
            sock.close(linger=0)

    rate = clients_rate(clients, seconds, dealer)
    stopper = ctx.socket(zmq.DEALER)
    stopper.connect(endpoint)
    stopper.send(b"stop")
    server.wait(30)
    stopper.close(linger=0)
    ctx.term()
    return rate


def batos_commit_rate(world: World, receivers: list[str], seconds: float) -> float:
    @contextlib.contextmanager
    def client(index: int) -> Iterator[Callable[[], None]]:
        with world.client() as batos:

            def one() -> None:
                reply = batos.request(send_request(receivers[index], "increment"))
                assert reply["type"] == "send_reply", reply

            yield one

    return clients_rate(len(receivers), seconds, client)


def prepare_counters(world: World, count: int) -> list[str]:
    """`count` distinct objects (genesis and clones), each with counter = 0 and increment."""
    receivers = ["genesis"]
    with world.client() as client:
        for _ in range(count - 1):
            reply = client.request(send_request("genesis", "clone"))
            receivers.append(reply["result"]["$ref"])
        for receiver in receivers:
            assert (
                client.request(send_request(receiver, "setSlot:value:", ["counter", 0]))["type"]
                == "send_reply"
            )
            reply = client.request(create_method_request(receiver, "increment", INCREMENT_SOURCE))
            assert reply["type"] == "create_method_reply", reply
        assert client.request(send_request("genesis", "setSlot:value:", ["x", 3]))["type"] == "send_reply"
    return receivers


# -- 3, 4. whole processes -------------------------------------------------------


def process_times(command: list[str], env: dict[str, str], runs: int) -> tuple[list[float], list[float]]:
    """Wall-clock and CPU (user + sys) seconds of `runs` runs of `command`.

    CPU time is printed too because it barely moves with the machine's load,
    while wall time on a shared 2-core machine can double.
    """
    walls, cpus = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        done = subprocess.run(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        walls.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
        if done.returncode != 0:
            raise SystemExit(f"{command} failed: {done.stderr.decode()[-500:]}")
    return walls, cpus


# -- report -------------------------------------------------------------------------


def verdict(ok: bool) -> str:
    return "ok" if ok else "MISS"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer samples (a smoke run)")
    parser.add_argument("--workers", type=int, help="the daemon's worker threads (default: its own)")
    parser.add_argument("--daemon-only", action="store_true", help="parts 1 and 2 only (no whole processes)")
    args = parser.parse_args()
    n = 300 if args.quick else 3000
    seconds = 2.0 if args.quick else 6.0
    runs = 5 if args.quick else 15
    workers = args.workers or "default"
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, workers {workers}; {load()}")
    root = Path(tempfile.mkdtemp(prefix="batos-bench-"))
    world = World(root, args.workers)
    try:
        world.start_daemon()
        receivers = prepare_counters(world, 8)
        run(world, root, receivers, n, seconds, runs, processes=not args.daemon_only)
    finally:
        world.stop_daemon()
        shutil.rmtree(root, ignore_errors=True)
    print(f"done; {load()}")


def run(
    world: World, root: Path, receivers: list[str], n: int, seconds: float, runs: int, *, processes: bool
) -> None:
    raw = median_ms(raw_roundtrip(root, n))
    handoff = median_ms(raw_roundtrip(root, n, HANDOFF_SERVER))
    ours = median_ms(batos_roundtrip(world, n))
    ratio = ours / handoff
    print(f"\n1. round trip, median of {n}")
    print(f"   raw pyzmq DEALER/ROUTER msgpack   {raw:8.3f} ms")
    print(f"   same via asyncio + worker threads {handoff:8.3f} ms  (the ceiling: no batos code)")
    print(f"   batos send genesis x (read-only)  {ours:8.3f} ms  = {ours / raw:.2f}x raw")
    print(f"   ratio to the ceiling {ratio:.2f}  [target <= 1.5: {verdict(ratio <= 1.5)}]")

    raw_rate = raw_commit_rate(root, seconds)
    floor_one = raw_commit_roundtrip_rate(root, 1, seconds)
    floor_eight = raw_commit_roundtrip_rate(root, 8, seconds)
    one = batos_commit_rate(world, receivers[:1], seconds)
    eight = batos_commit_rate(world, receivers, seconds)
    print(f"\n2. commits/s over {seconds:g} s")
    print(f"   raw FileStorage, 1 object, 1 thread   {raw_rate:8.0f}/s")
    print("   bare commit server: pyzmq round trip + that commit, no batos code (the ceiling):")
    for label, rate in (("1 client", floor_one), ("8 clients/8 objects", floor_eight)):
        print(f"     {label:<34}{rate:8.0f}/s  = {rate / raw_rate:.0%} of raw")
    for label, rate, ceiling in (("1 client", one, floor_one), ("8 clients/8 objects", eight, floor_eight)):
        print(
            f"   batos increment, {label:<21}{rate:8.0f}/s  = {rate / ceiling:.0%} of the bare server"
            f"  [target >= 60%: {verdict(rate >= 0.6 * ceiling)}]"
        )
    if not processes:
        return

    batos = [str(BIN / "batos")] if (BIN / "batos").exists() else [sys.executable, "-m", "batos_cli.main"]
    send_wall, send_cpu = map(
        median_ms, process_times([*batos, "send", "genesis", "printString"], world.env, runs)
    )
    base_wall, base_cpu = map(
        median_ms, process_times([sys.executable, "-c", "import zmq, ormsgpack"], world.env, runs)
    )
    ratio = send_wall / base_wall
    print(f"\n3. whole process, median of {runs} (wall; CPU user+sys in brackets)")
    print(f"   python -c 'import zmq, ormsgpack'     {base_wall:8.1f} ms  [{base_cpu:6.1f} ms CPU]")
    print(f"   batos send genesis printString        {send_wall:8.1f} ms  [{send_cpu:6.1f} ms CPU]")
    print(
        f"   ratio {ratio:.2f} wall, {send_cpu / base_cpu:.2f} CPU  [target <= 1.6: {verdict(ratio <= 1.6)}]"
    )

    help_wall, help_cpu = map(median_ms, process_times([*batos, "--help"], world.env, runs))
    print(
        f"\n4. batos --help, median of {runs}     {help_wall:8.1f} ms  [{help_cpu:6.1f} ms CPU]"
        f"  [target < 100 ms: {verdict(help_wall < 100)}]"
    )


if __name__ == "__main__":
    main()
