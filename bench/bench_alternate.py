"""Before/after for the daemon: two source trees' daemons measured in turn, in one session.

Each round starts a daemon from one tree (its own code and its own
``bench_roundtrip.World``), measures it, stops it, then does the same for the
other tree, the order swapping every round; the machine's drift then falls
on both alike. Per daemon: the median read-only round trip over 2000
``send genesis x``, with the daemon's CPU (user + sys, ``/proc/PID/stat``)
and context switches (summed over its threads) per request; then committing
``increment`` sends for ``--seconds`` with 1 client and with 8 clients on 8
objects, with the daemon's CPU per commit. Prints each round, then the medians.

Use: ``git worktree add ../base main --detach`` (the code before), then
``.venv/bin/python bench/bench_alternate.py --base ../base --new . [--rounds 4]``.
Linux only (``/proc``). Not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

# Runs in a child process per daemon, with the tree's own code first on sys.path.
MEASURE = r"""
import json, os, shutil, statistics, sys, tempfile, time
tree, seconds = sys.argv[1], float(sys.argv[2])
sys.path[:0] = [tree, os.path.join(tree, "bench")]
os.environ["PYTHONPATH"] = tree  # the daemon that World starts runs this tree's code
from pathlib import Path
import bench_roundtrip as b

root = Path(tempfile.mkdtemp(prefix="batos-bench-alt-"))
world = b.World(root)
world.start_daemon()
pid = world.proc.pid

def cpu_s():
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

def switches():
    total = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/status") as status:
            total += sum(int(line.split()[1]) for line in status if "ctxt_switches" in line)
    return total

out = {}
try:
    receivers = b.prepare_counters(world, 8)
    with world.client() as client:
        for _ in range(200):  # warm
            client.request(b.send_request("genesis", "x"))
        samples, cpu0, ctx0 = [], cpu_s(), switches()
        for _ in range(2000):
            message = b.send_request("genesis", "x")
            start = time.perf_counter()
            assert client.request(message)["type"] == "send_reply"
            samples.append(time.perf_counter() - start)
        out["read_ms"] = statistics.median(samples) * 1e3
        out["read_cpu_us"] = (cpu_s() - cpu0) / 2000 * 1e6
        out["read_switches"] = (switches() - ctx0) / 2000
    for clients in (1, 8):
        cpu0, start = cpu_s(), time.perf_counter()
        rate = b.batos_commit_rate(world, receivers[:clients], seconds)
        elapsed = time.perf_counter() - start
        out[f"commits{clients}_per_s"] = rate
        out[f"commits{clients}_cpu_us"] = (cpu_s() - cpu0) / (rate * elapsed) * 1e6
finally:
    world.stop_daemon()
    shutil.rmtree(root, ignore_errors=True)
print(json.dumps(out))
"""


def measure(tree: Path, seconds: float) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, str(tree), str(seconds)],
        cwd=tree,
        env={**os.environ, "PYTHONPATH": str(tree)},
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise SystemExit(f"measuring {tree} failed:\n{done.stderr[-2000:]}")
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def show(values: dict[str, float]) -> str:
    return "  ".join(
        f"{key} {value:.3f}" if value < 10 else f"{key} {value:.0f}" for key, value in values.items()
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", type=Path, required=True, help="the tree before (a worktree)")
    parser.add_argument("--new", type=Path, default=Path("."), help="the tree after (default: this one)")
    parser.add_argument("--rounds", type=int, default=4, help="rounds, each measuring both trees")
    parser.add_argument("--seconds", type=float, default=4.0, help="seconds per commit rate")
    args = parser.parse_args()
    trees = {"base": args.base.resolve(), "new": args.new.resolve()}
    results: dict[str, list[dict[str, float]]] = {name: [] for name in trees}
    print(f"{os.cpu_count()} CPUs; load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    for round_number in range(args.rounds):
        order = list(trees) if round_number % 2 == 0 else list(reversed(trees))
        for name in order:
            results[name].append(measure(trees[name], args.seconds))
            print(f"round {round_number} {name:<4}  {show(results[name][-1])}", flush=True)
    for name, rounds in results.items():
        medians = {key: statistics.median(r[key] for r in rounds) for key in rounds[0]}
        print(f"median {name:<4}  {show(medians)}")
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
