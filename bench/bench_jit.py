"""JIT benchmark: miss -> installed method on the real CPU model, and generated vs hand-written calls.

Runs a real daemon (``--backend transformers``, default model
``qwen2.5-coder-0.5b-instruct``) on a temporary image and prints medians and
ratios (targets in brackets; a miss is printed, not hidden):

1. miss -> installed, over the intent suite (``tests/llm/intents.py``), split
   into model time (generation, including the token events) and batos
   overhead (extract + vet + trial + install, from the daemon's "installed"
   log line: the pipeline's Outcome), tokens/s, and the client-side round
   trip. Overhead share of the total                           [< 5 %]
2. the second call of a generated method vs the same body installed by hand
   with ``create_method`` on a twin receiver, through the daemon's send,
   interleaved, ``--sends`` each                               [ratio <= 1.10]

A warm-up miss (not counted) loads the model first. The machine's load
average is printed with the figures. Run:
``PYTHONPATH=. .venv/bin/python bench/bench_jit.py [--intents N] [--sends N]``.
Needs the model pulled (``batos model pull``) and the llm extra. Not a test.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "llm")]

from intents import INTENTS, IntentResult, receiver_name, run_intent  # noqa: E402

from batos_core.jit.pipeline import ATTEMPTS_ENV  # noqa: E402
from batos_core.protocol.builders import create_method_request, eval_request, send_request  # noqa: E402
from batos_core.protocol.client import Client  # noqa: E402
from tests.integration.conftest import DaemonProcess, make_dirs, start_daemon  # noqa: E402

MODEL = "qwen2.5-coder-0.5b-instruct"
INSTALLED = re.compile(
    r"installed (?P<selector>\S+) v\d+ on (?P<target>\S+) after (?P<attempts>\d+) attempt\(s\), "
    r"(?P<tokens>\d+) tokens, (?P<model>[\d.]+) s model, (?P<overhead>[\d.]+) s overhead"
)


@dataclass
class Install:
    """One ``installed`` line of the daemon log: the pipeline's Outcome for one miss."""

    selector: str
    target: str
    attempts: int
    tokens: int
    model_s: float
    overhead_s: float

    @property
    def total_s(self) -> float:
        return self.model_s + self.overhead_s


def installs(log_text: str) -> dict[tuple[str, str], Install]:
    """Every install in the daemon log, by (target oid, selector)."""
    found: dict[tuple[str, str], Install] = {}
    for match in INSTALLED.finditer(log_text):
        install = Install(
            match["selector"],
            match["target"],
            int(match["attempts"]),
            int(match["tokens"]),
            float(match["model"]),
            float(match["overhead"]),
        )
        found[(install.target, install.selector)] = install
    return found


def start(root: Path, model: str, attempts: int) -> DaemonProcess:
    args = ["--backend", "transformers", "--model", model]
    return start_daemon(make_dirs(root), extra_args=args, env={ATTEMPTS_ENV: str(attempts)})


def oid_of(client: Client, name: str) -> str:
    reply = client.request(eval_request(name))
    return str(reply["result"]["$ref"])


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


def miss_to_install(client: Client, daemon: DaemonProcess, count: int) -> list[tuple[IntentResult, str]]:
    """Run the first `count` intents; print the split of each installed one and the medians."""
    runs: list[tuple[IntentResult, str]] = []
    for index, intent in enumerate(INTENTS[:count], 1):
        name = receiver_name(index)
        result = run_intent(client, intent, name)
        runs.append((result, name))
    by_target = installs(daemon.log_text())
    rows: list[tuple[IntentResult, Install]] = []
    for result, name in runs:
        intent = next(i for i in INTENTS if i.selector == result.selector)
        install = by_target.get((oid_of(client, name), intent.python_selector))
        if install is not None:
            rows.append((result, install))
    print(f"\n1. miss -> installed ({len(rows)} of {len(runs)} intents installed a method)")
    heads = ("att", 3), ("tok", 4), ("model s", 8), ("overhead s", 10), ("share", 6), ("wall s", 7)
    print(f"   {'selector':<22} " + " ".join(f"{h:>{w}}" for h, w in heads))
    for result, install in rows:
        share = install.overhead_s / install.total_s
        print(
            f"   {result.selector:<22} {install.attempts:>3} {install.tokens:>4} {install.model_s:>8.2f} "
            f"{install.overhead_s:>10.3f} {share:>6.1%} {result.wall_seconds:>7.2f}"
        )
    if not rows:
        return runs
    total = statistics.median(i.total_s for _, i in rows)
    model = statistics.median(i.model_s for _, i in rows)
    overhead = statistics.median(i.overhead_s for _, i in rows)
    share = statistics.median(i.overhead_s / i.total_s for _, i in rows)
    one_shot = [i for _, i in rows if i.attempts == 1]
    share_one = statistics.median(i.overhead_s / i.total_s for i in one_shot) if one_shot else float("nan")
    tps = statistics.median(i.tokens / i.model_s for _, i in rows if i.model_s > 0)
    wall = statistics.median(r.wall_seconds for r, _ in rows)
    print(f"   median miss -> installed: {total:.2f} s (model {model:.2f} s, overhead {overhead:.3f} s)")
    print(f"   median overhead share: {share:.1%} [< 5 %]  (first-attempt installs only: {share_one:.1%})")
    print(f"   median tokens/s (tokens / model time): {tps:.1f}")
    print(f"   median client round trip of the miss (generate + install + re-send): {wall:.2f} s")
    return runs


def second_calls(client: Client, runs: list[tuple[IntentResult, str]], sends: int, methods: int) -> None:
    """Generated vs hand-written (create_method, same body) through send, interleaved."""
    pairs = [(r, n) for r, n in runs if r.passed and r.source][:methods]
    print(f"\n2. second call: generated vs create_method with the same body, {sends} sends each")
    if not pairs:
        print("   no generated method passed its checks: nothing to compare")
        return
    ratios: list[float] = []
    all_generated: list[float] = []
    all_hand: list[float] = []
    for index, (result, name) in enumerate(pairs):
        intent = next(i for i in INTENTS if i.selector == result.selector)
        twin = f"hand{index}"
        client.request(eval_request(f"lobby setSlot: '{twin}' value: (genesis clone)"))
        for slot, value in intent.slots.items():
            client.request(send_request(twin, "setSlot:value:", [slot, value]))
        reply = client.request(create_method_request(twin, intent.python_selector, result.source))
        assert reply["type"] == "create_method_reply", reply
        args = list(intent.cases[0].args)
        generated: list[float] = []
        hand: list[float] = []
        for _ in range(10):  # warm both (compile once per process)
            client.request(send_request(name, intent.selector, args))
            client.request(send_request(twin, intent.selector, args))
        for turn in range(sends * 2):
            target, samples = (name, generated) if turn % 2 == 0 else (twin, hand)
            started = time.perf_counter()
            reply = client.request(send_request(target, intent.selector, args))
            samples.append(time.perf_counter() - started)
            assert reply["type"] == "send_reply", reply
        g, h = statistics.median(generated), statistics.median(hand)
        ratios.append(g / h)
        all_generated += generated
        all_hand += hand
        print(f"   {intent.selector:<22} generated {ms(g)}  hand-written {ms(h)}  ratio {g / h:.3f}")
    g, h = statistics.median(all_generated), statistics.median(all_hand)
    print(f"   all sends: generated {ms(g)}, hand-written {ms(h)}, ratio {g / h:.3f} [<= 1.10]")
    print(f"   median of per-method ratios: {statistics.median(ratios):.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=MODEL)
    parser.add_argument("--intents", type=int, default=len(INTENTS), help="how many suite intents to run")
    parser.add_argument("--attempts", type=int, default=3)
    parser.add_argument("--sends", type=int, default=200)
    parser.add_argument("--methods", type=int, default=5, help="generated methods compared in part 2")
    args = parser.parse_args()

    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory(prefix="bench-jit-") as tmp:
        daemon = start(Path(tmp), args.model, args.attempts)
        try:
            with Client.from_connection_info(daemon.info, timeout=300.0, retries=0) as client:
                client.request(eval_request("lobby setSlot: 'warmup' value: (genesis clone)"))
                started = time.perf_counter()
                client.request(send_request("warmup", "double:", [4]))
                print(f"warm-up miss (model load + one generation): {time.perf_counter() - started:.1f} s")
                runs = miss_to_install(client, daemon, args.intents)
                second_calls(client, runs, args.sends, args.methods)
        finally:
            daemon.stop()
    print(f"\nload average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
