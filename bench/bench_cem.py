"""CEM benchmark: `batos cem` on an image of 100,000 objects, and the idle heartbeat's CPU.

Builds a FileStorage image of OBJECTS UvmObjects (100 prototypes, each with
clones holding 1-2 data slots), starts a real daemon subprocess on it with
autotelic on and a scripted model (no act can start: the idle time is never
reached), then measures:

* ``cem_request`` round trips: the first (which pays the one full scan of the
  image's records), the first after a restart (the summary saved at the last
  stop, plus the transactions since), and the median of the following ones
  (incremental), against
  a ``status_request`` round trip (the raw baseline, measured in the same run);
* the same after a commit that changed objects (the incremental path's work);
* the whole ``batos cem`` command as a process (interpreter start included);
* the daemon's CPU time (``/proc/PID/stat``) over IDLE_S seconds of idleness,
  with the heartbeat at its defaults and with a CEM sample every second,
  against an autotelic-off daemon on the same image.

Run: ``python bench/bench_cem.py [objects]``. Not a timed test.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from batos_core.image_format import MIGRATIONS
from batos_core.protocol.builders import cem_request, send_request, status_request
from batos_core.protocol.client import Client
from batos_core.protocol.connection import read_connection_file

OBJECTS = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
PROTOTYPES = 100
REPEATS = 21
IDLE_S = 20.0
TICKS_PER_S = os.sysconf("SC_CLK_TCK")


def build_image(path: Path, objects: int) -> float:
    """Write the image; returns seconds taken."""
    from batos_core.image import open_image
    from batos_core.objects import UvmObject, set_slot

    started = time.perf_counter()
    with open_image(path, migrations=MIGRATIONS) as image, image.session() as session:
        per_proto = max(1, objects // PROTOTYPES - 1)
        for p in range(PROTOTYPES):
            proto = UvmObject(**{"parent*": session.genesis, "kind": f"p{p}"})
            set_slot(session.lobby, f"proto{p}", proto)
            kids = [
                UvmObject(**{"parent*": proto, "x": i, **({"y": 1} if i % 3 == 0 else {})})
                for i in range(per_proto)
            ]
            set_slot(proto, "instances", kids)
            session.commit()
            session.connection.cacheMinimize()
    return time.perf_counter() - started


@contextmanager
def daemon(dirs: Path, image: Path, *extra: str, env: dict[str, str] | None = None) -> Iterator[Any]:
    """A daemon subprocess on `image`; yields (pid, connection info)."""
    runtime = dirs / "run"
    runtime.mkdir(mode=0o700, exist_ok=True)
    read_end, write_end = os.pipe()
    full_env = {**os.environ, "BATOS_CONFIG": str(dirs / "none.toml"), **(env or {})}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "batos_core.daemon",
            "--image",
            str(image),
            "--runtime-dir",
            str(runtime),
            "--ready-fd",
            str(write_end),
            "--log-file",
            str(dirs / "daemon.log"),
            *extra,
        ],
        pass_fds=(write_end,),
        env=full_env,
        cwd=Path(__file__).resolve().parent.parent,
    )
    os.close(write_end)
    line = os.read(read_end, 4096).decode()
    os.close(read_end)
    if not line.startswith("ready"):
        proc.kill()
        raise RuntimeError(f"daemon did not start: {line!r}; see {dirs / 'daemon.log'}")
    from batos_core.daemon_config import DaemonConfig

    info = read_connection_file(DaemonConfig(image=str(image), runtime_dir=runtime).connection_path())
    try:
        yield proc.pid, info
    finally:
        with Client.from_connection_info(info, timeout=30, retries=0) as client:
            client.request({"type": "shutdown_request", "id": os.urandom(8).hex()})
        proc.wait(60)


def timed(client: Client, message_factory: Any, repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        started = time.perf_counter()
        reply = client.request(message_factory())
        out.append(time.perf_counter() - started)
        assert reply["type"] != "error_reply", reply
    return out


def run_cli(env: dict[str, str], image: Path, *args: str) -> float:
    """Seconds one `batos` process takes, interpreter start included."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "batos_cli.main", "--image", str(image), *args],
        env=env,
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parent.parent,
    )
    assert done.returncode == 0, done.stderr
    return time.perf_counter() - started


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS_PER_S


def idle_cpu(pid: int) -> float:
    """Percent of one core the daemon used over IDLE_S seconds of no requests."""
    before = cpu_seconds(pid)
    time.sleep(IDLE_S)
    return 100.0 * (cpu_seconds(pid) - before) / IDLE_S


def ms(values: list[float]) -> str:
    return f"{1000 * statistics.median(values):.2f} ms"


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="batos-bench-cem-") as tmp:
        dirs = Path(tmp)
        image = dirs / "image.fs"
        script = dirs / "script.json"
        script.write_text("[]")
        print(f"building an image of {OBJECTS} objects ...", flush=True)
        print(f"  built in {build_image(image, OBJECTS):.1f} s ({image.stat().st_size / 1e6:.0f} MB)")
        scripted = ("--backend", "scripted", "--model", str(script))
        with (
            daemon(dirs, image, *scripted, "--autotelic") as (pid, info),
            Client.from_connection_info(info, timeout=120, retries=0) as client,
        ):
            status = timed(client, status_request, REPEATS)
            first = timed(client, cem_request, 1)[0]
            reply = client.request(cem_request())
            warm = timed(client, cem_request, REPEATS)
            changed = []
            for i in range(REPEATS):
                client.request(send_request("proto1", "setSlot:value:", [f"extra{i}", i]))
                changed += timed(client, cem_request, 1)
            env = {
                **os.environ,
                "BATOS_RUNTIME_DIR": str(dirs / "run"),
                "BATOS_CONFIG": str(dirs / "none.toml"),
            }
            cli = [run_cli(env, image, "cem", "--json") for _ in range(5)]
            cli_status = [run_cli(env, image, "daemon", "status") for _ in range(5)]
            print(
                f"CEM {reply['value']:.3f} over {int(reply['facts']['objects'])} objects, "
                f"{int(reply['facts']['slots'])} slots; full scan {reply['facts']['scan_seconds']:.2f} s"
            )
            print(f"status_request round trip (baseline)     {ms(status)}")
            print(f"cem_request, first (full scan)           {1000 * first:.0f} ms")
            base = statistics.median(status)
            warm_x = statistics.median(warm) / base
            changed_x = statistics.median(changed) / base
            print(f"cem_request, warm median                 {ms(warm)}  ({warm_x:.1f}x baseline)")
            print(f"cem_request after a commit, median       {ms(changed)}  ({changed_x:.1f}x baseline)")
            print(f"`batos daemon status` process (baseline) {ms(cli_status)}")
            print(f"`batos cem --json` process, median       {ms(cli)}")
            client.request(send_request("genesis", "printString", []))
            on_default = idle_cpu(pid)
        with daemon(dirs, image, *scripted, "--autotelic", env={"BATOS_AUTOTELIC_SAMPLE_S": "1"}) as (
            pid,
            info,
        ):
            with Client.from_connection_info(info, timeout=120, retries=0) as client:
                # The first reading of a restarted daemon: the saved summary plus what changed.
                restarted = timed(client, cem_request, 1)[0]
            on_sampling = idle_cpu(pid)
        with daemon(dirs, image, *scripted) as (pid, info):
            off = idle_cpu(pid)
        print(f"cem_request, first after a restart       {1000 * restarted:.0f} ms (saved summary + changes)")
        print(f"idle CPU over {IDLE_S:g} s, autotelic off (baseline)        {off:.2f}% of one core")
        print(f"idle CPU, autotelic on, defaults (tick 1 s, sample 60 s)  {on_default:.2f}% of one core")
        print(f"idle CPU, autotelic on, a CEM sample every second       {on_sampling:.2f}% of one core")
        print(
            json.dumps(
                {
                    "objects": OBJECTS,
                    "cem_first_s": first,
                    "cem_first_after_restart_s": restarted,
                    "cem_warm_s": statistics.median(warm),
                    "cem_after_commit_s": statistics.median(changed),
                    "cli_s": statistics.median(cli),
                    "idle_cpu_off_pct": off,
                    "idle_cpu_on_pct": on_default,
                    "idle_cpu_sampling_pct": on_sampling,
                }
            )
        )


if __name__ == "__main__":
    main()
