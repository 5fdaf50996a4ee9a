"""Many daemons, one world: batos on a ZEO world against a plain ZEO client, in the same run.

Prints, against ceilings measured in this run (targets in brackets; a miss is
printed, not hidden):

1. peer: committing increments of one object per client, C client processes
   (C = 1, 8), through one batos daemon on a ZEO world vs plain ZEO clients
   (ClientStorage + ZODB, one process each) committing the same change
                                                               [batos >= 80 % of ZEO]
   and, for C = 1, the ceiling of any daemon in front of ZEO: a bare pyzmq
   server committing each message through its own ZEO client (no batos code),
   against the same plain ZEO client and against batos
2. N daemons on one ZEO world (N = 1, 2, 4), 2 client processes each, every
   client on its own object: aggregate commits/s           [N = 2, 4 >= 70 % of N = 1]
   and that nothing was lost (the counters add up to the acknowledged increments)
3. visibility: a slot set through daemon A, then read through daemon B at once:
   time from A's reply to B's reply (p50 / p99), and whether B saw it [always]

Everything runs under a temporary directory; the ZEO server is
`batos image serve`'s (runzeo). Run on a quiet machine:
``.venv/bin/python bench/bench_world.py [--quick]``. Not a test.
"""

from __future__ import annotations

import argparse
import os
import select
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from batos_core import zeo_record
from batos_core.daemon_config import DaemonConfig
from batos_core.protocol.builders import create_method_request, send_request, shutdown_request
from batos_core.protocol.client import Client
from batos_core.protocol.connection import ConnectionInfo, read_connection_file
from batos_core.world import zeo_server

INCREMENT_SOURCE = "def increment(self):\n    self.counter = self.counter + 1\n    return self.counter\n"


# -- client processes (this file run with --child) ---------------------------


def _zeo_db(address: str) -> Any:
    import ZODB
    from ZEO.ClientStorage import ClientStorage

    host, port = address.rsplit(":", 1)
    return ZODB.DB(ClientStorage((host, int(port)), server_sync=True))


def child_zeo(address: str, key: str, seconds: float) -> int:
    """Commits of `key`'s counter through a plain ZEO client for `seconds`; the count."""
    import transaction
    from persistent.mapping import PersistentMapping

    db = _zeo_db(address)
    manager = transaction.TransactionManager()
    connection = db.open(manager)
    root = connection.root()
    for attempt in manager.attempts(50):  # its own object: clients never write the same one
        with attempt:
            if key not in root:
                root[key] = PersistentMapping(counter=0)
    mine = root[key]
    count = 0
    stop_at = _wait_for_start() + seconds
    while time.perf_counter() < stop_at:
        for attempt in manager.attempts(50):
            with attempt:
                mine["counter"] += 1
        count += 1
    connection.close()
    db.close()
    return count


def bare_server(address: str, endpoint: str) -> None:
    """A ROUTER that commits one increment per message through its own ZEO client
    (server_sync, as batos's and the plain clients'), until b"stop": the shape of
    a daemon in front of ZEO with no batos code."""
    import ormsgpack
    import transaction
    import zmq
    from persistent.mapping import PersistentMapping

    db = _zeo_db(address)
    manager = transaction.TransactionManager()
    root = db.open(manager).root()
    context = zmq.Context()
    sock = context.socket(zmq.ROUTER)
    sock.bind(endpoint)
    print("ready", flush=True)
    while True:
        identity, body = sock.recv_multipart()
        if body == b"stop":
            break
        message = ormsgpack.unpackb(body)
        key = message["receiver"]
        for attempt in manager.attempts(50):
            with attempt:
                if key not in root:
                    root[key] = PersistentMapping(counter=0)
                root[key]["counter"] += 1
                result = root[key]["counter"]
        sock.send_multipart([identity, ormsgpack.packb({"id": message["id"], "result": result})])
    sock.close(linger=0)
    context.term()
    db.close()


def child_bare(endpoint: str, key: str, seconds: float) -> int:
    """Round trips through `bare_server` for `seconds`; the count."""
    import ormsgpack
    import zmq

    context = zmq.Context()
    sock = context.socket(zmq.DEALER)
    sock.connect(endpoint)

    def one(number: int) -> None:
        sock.send(ormsgpack.packb({"id": number, "receiver": key}))
        assert ormsgpack.unpackb(sock.recv())["id"] == number

    one(-1)  # connected, and its object made, before the start
    count = 0
    stop_at = _wait_for_start() + seconds
    while time.perf_counter() < stop_at:
        one(count)
        count += 1
    sock.close(linger=0)
    context.term()
    return count


def bare_rate(root: Path, address: str, clients: int, seconds: float) -> float:
    """Commits/s of `clients` client processes through one `bare_server`."""
    import zmq

    endpoint = f"ipc://{root}/bare.sock"
    server = subprocess.Popen(
        [sys.executable, __file__, "--bare-server", address, endpoint], stdout=subprocess.PIPE
    )
    assert server.stdout is not None
    if server.stdout.readline().strip() != b"ready":
        server.kill()
        raise SystemExit("the bare ZEO server did not start")
    try:
        return run_children([["bare", endpoint, f"bare-{i}", str(seconds)] for i in range(clients)])
    finally:
        context = zmq.Context()
        stopper = context.socket(zmq.DEALER)
        stopper.connect(endpoint)
        stopper.send(b"stop")
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            server.kill()
        stopper.close(linger=0)
        context.term()


def child_batos(connection_file: str, receiver: str, seconds: float) -> int:
    """Committing `receiver increment` sends through a daemon for `seconds`; the count."""
    with Client.from_connection_info(read_connection_file(Path(connection_file)), timeout=60.0) as client:
        client.request(send_request(receiver, "counter"))  # connected before the start
        count = 0
        stop_at = _wait_for_start() + seconds
        while time.perf_counter() < stop_at:
            reply = client.request(send_request(receiver, "increment"))
            assert reply["type"] == "send_reply", reply
            count += 1
    return count


#: Children start counting together, this long after they were started (imports, connecting).
START_DELAY_S = 3.0


def _wait_for_start() -> float:
    """Sleep until the common start time (BENCH_START_AT, wall clock); perf_counter() then."""
    delay = float(os.environ["BENCH_START_AT"]) - time.time()
    if delay > 0:
        time.sleep(delay)
    return time.perf_counter()


def run_children(commands: list[list[str]]) -> float:
    """Start the child processes, which count together from a common start; their
    total count per second of the run."""
    env = {**os.environ, "BENCH_START_AT": repr(time.time() + START_DELAY_S)}
    procs = [
        subprocess.Popen([sys.executable, __file__, "--child", *c], stdout=subprocess.PIPE, env=env)
        for c in commands
    ]
    counts = [int(proc.communicate()[0].decode().strip().splitlines()[-1]) for proc in procs]
    return sum(counts) / float(commands[0][-1])


# -- the world ---------------------------------------------------------------


class Daemons:
    """Daemons of one ZEO world, started as the CLI does (ready pipe), named by instance."""

    def __init__(self, root: Path, uri: str) -> None:
        self.root, self.uri = root, uri
        self.runtime = root / "run"
        self.runtime.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.runtime, 0o700)
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.infos: dict[str, ConnectionInfo] = {}

    def start(self, instance: str) -> ConnectionInfo:
        read_end, write_end = os.pipe()
        args = ["--image", self.uri, "--instance", instance, "--runtime-dir", str(self.runtime)]
        args += [
            "--backend",
            "none",
            "--log-level",
            "WARNING",
            "--log-file",
            str(self.root / f"{instance}.log"),
        ]
        self.procs[instance] = subprocess.Popen(
            [sys.executable, "-m", "batos_core.daemon", *args, "--ready-fd", str(write_end)],
            pass_fds=(write_end,),
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
            raise SystemExit(f"daemon {instance} did not start: {line!r}")
        self.infos[instance] = read_connection_file(self.connection_path(instance))
        return self.infos[instance]

    def connection_path(self, instance: str) -> Path:
        return DaemonConfig(image=self.uri, runtime_dir=self.runtime, instance=instance).connection_path()

    def client(self, instance: str) -> Client:
        return Client.from_connection_info(self.infos[instance], timeout=60.0, retries=0)

    def stop_all(self) -> None:
        for instance, proc in self.procs.items():
            if proc.poll() is None:
                with self.client(instance) as client:
                    client.request(shutdown_request())
                proc.wait(60)
        self.procs.clear()


def counters(daemons: Daemons, instance: str, count: int) -> list[str]:
    """`count` clones of genesis (their oid references), each with counter 0 and increment."""
    names = []
    with daemons.client(instance) as client:
        for _ in range(count):
            name = client.request(send_request("genesis", "clone"))["result"]["$ref"]
            assert (
                client.request(send_request(name, "setSlot:value:", ["counter", 0]))["type"] == "send_reply"
            )
            reply = client.request(create_method_request(name, "increment", INCREMENT_SOURCE))
            assert reply["type"] == "create_method_reply", reply
            names.append(name)
    return names


def total_of(daemons: Daemons, instance: str, names: list[str]) -> int:
    with daemons.client(instance) as client:
        return sum(int(client.request(send_request(name, "counter"))["result"]) for name in names)


def verdict(ok: bool) -> str:
    return "ok" if ok else "MISSED"


# -- the measurements --------------------------------------------------------


def peer(root: Path, record: zeo_record.ServerRecord, seconds: float) -> None:
    daemons = Daemons(root / "peer", record.uri)
    daemons.start("peer")
    try:
        for clients in (1, 8):
            address = f"{record.host}:{record.port}"
            zeo = run_children([["zeo", address, f"zeo-{clients}-{i}", str(seconds)] for i in range(clients)])
            names = counters(daemons, "peer", clients)
            path = str(daemons.connection_path("peer"))
            batos = run_children([["batos", path, name, str(seconds)] for name in names])
            ratio = batos / zeo
            print(
                f"1. {clients} client(s): plain ZEO {zeo:7.0f} commits/s, batos on ZEO {batos:7.0f}/s "
                f"= {ratio:.0%} [>= 80 %] {verdict(ratio >= 0.8)}"
            )
            if clients == 1:
                bare = bare_rate(root, address, clients, seconds)
                print(
                    f"   the ceiling: a bare pyzmq server on a ZEO client {bare:7.0f}/s = {bare / zeo:.0%} "
                    f"of plain ZEO; batos = {batos / bare:.0%} of it"
                )
    finally:
        daemons.stop_all()


def n_daemons(root: Path, record: zeo_record.ServerRecord, seconds: float) -> None:
    base = 0.0
    for count in (1, 2, 4):
        daemons = Daemons(root / f"n{count}", record.uri)
        try:
            instances = [f"n{count}d{i}" for i in range(count)]
            commands, names = [], []
            for instance in instances:
                daemons.start(instance)
                own = counters(daemons, instance, 2)
                names += own
                path = str(daemons.connection_path(instance))
                commands += [["batos", path, name, str(seconds)] for name in own]
            rate = run_children(commands)
            acknowledged = round(rate * seconds)
            total = total_of(daemons, instances[0], names)
            base = base or rate
            shown = (
                "" if count == 1 else f" = {rate / base:.0%} of N = 1 [>= 70 %] {verdict(rate >= 0.7 * base)}"
            )
            print(
                f"2. N = {count}: {rate:7.0f} commits/s aggregate{shown}; "
                f"counters {total} for {acknowledged} acknowledged {verdict(total == acknowledged)}"
            )
        finally:
            daemons.stop_all()


def visibility(root: Path, record: zeo_record.ServerRecord, samples: int) -> None:
    daemons = Daemons(root / "vis", record.uri)
    try:
        daemons.start("a")
        daemons.start("b")
        times, missed = [], 0
        with daemons.client("a") as a, daemons.client("b") as b:
            for value in range(samples):
                assert (
                    a.request(send_request("genesis", "setSlot:value:", ["stamp", value]))["type"]
                    == "send_reply"
                )
                acked = time.perf_counter()
                seen = b.request(send_request("genesis", "stamp"))["result"]
                times.append(time.perf_counter() - acked)
                missed += seen != value
        times.sort()
        p50, p99 = statistics.median(times) * 1e3, times[int(0.99 * (len(times) - 1))] * 1e3
        print(
            f"3. visibility A -> B: p50 {p50:.2f} ms, p99 {p99:.2f} ms; "
            f"B missed A's write {missed} of {samples} times [0] {verdict(missed == 0)}"
        )
    finally:
        daemons.stop_all()


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        kind, target, key, span = sys.argv[2:6]
        run = {"zeo": child_zeo, "batos": child_batos, "bare": child_bare}[kind]
        print(run(target, key, float(span)))
        return
    if len(sys.argv) > 1 and sys.argv[1] == "--bare-server":
        bare_server(*sys.argv[2:4])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short runs (a smoke run)")
    args = parser.parse_args()
    seconds, samples = (1.0, 50) if args.quick else (5.0, 500)
    one, five, fifteen = os.getloadavg()
    print(f"load average {one:.2f} {five:.2f} {fifteen:.2f}; {os.cpu_count()} CPUs; {seconds:g} s per rate")
    with tempfile.TemporaryDirectory(prefix="batos-bench-world-") as tmp:
        root = Path(tmp)
        port = _free_port()
        record = zeo_server.serve(root / "world.fs", "127.0.0.1", port)
        try:
            peer(root, record, seconds)
            n_daemons(root, record, seconds)
            visibility(root, record, samples)
        finally:
            zeo_server.stop(root / "world.fs")


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


if __name__ == "__main__":
    main()
