"""JIT benchmark: miss -> installed method on the real CPU model, and generated vs hand-written calls.

Runs a real daemon (``--backend auto``: llama.cpp for the catalog's GGUFs on
a CPU; default model ``qwen2.5-coder-0.5b-instruct``) on a temporary image and
prints medians and ratios (targets in brackets; a miss is printed, not hidden):

1. miss -> installed, over the intent suite (``tests/llm/intents.py``, or with
   ``--suite heldout`` the 30 held-out selectors of ``heldout_intents.py``),
   with how many intents were right and why the others were not, split
   into model time (generation, including the token events) and batos
   overhead (extract + vet + trial + install, from the daemon's "installed"
   log line: the pipeline's Outcome), tokens/s, and the client-side round
   trip. Overhead share of the total, with K candidates and their trials
   (``--candidates``, default 4)                                [< 5 %]
   Then the choice among candidates: each install's candidate record (K,
   how many were written, the behaviour groups, the checks) and, where a
   plain majority would have installed another candidate, whether that one
   passes the intent's cases: right answers by dual agreement vs by a plain
   majority, from the same candidates.
2. the second call of a generated method (restricted, under the daemon's
   audit hook: ``docs/security.md``) vs the same body installed by hand with
   ``create_method`` as trusted (plain Python) on a twin receiver, through the
   daemon's send, interleaved, ``--sends`` each      [ratio <= 1.10; issue: <= 2]

A warm-up miss (not counted) loads the model first. The machine's load
average is printed with the figures. Run:
``PYTHONPATH=. .venv/bin/python bench/bench_jit.py [--suite intents|heldout] [--intents N]
[--sends N] [--candidates K] [--backend NAME] [--model NAME]``.
Needs the model pulled (``batos model pull``) and the llm extra. Not a test.
``--backend scripted --model SCRIPT.json`` (a JSON list of replies, in the
order the misses ask for them) runs the bench's code path without a model.
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
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "llm")]

from heldout_intents import HELDOUT  # noqa: E402
from intents import INTENTS, Intent, IntentResult, receiver_name, run_intent  # noqa: E402

from batos_core.jit.pipeline import ATTEMPTS_ENV  # noqa: E402
from batos_core.protocol.builders import (  # noqa: E402
    create_method_request,
    eval_request,
    history_request,
    send_request,
)
from batos_core.protocol.client import Client  # noqa: E402
from tests.integration.conftest import DaemonProcess, make_dirs, start_daemon  # noqa: E402

MODEL = "qwen2.5-coder-0.5b-instruct"
INSTALLED = re.compile(
    r"installed (?P<selector>\S+) v\d+ on (?P<target>\S+) after (?P<attempts>\d+) attempt\(s\), "
    r"(?P<tokens>\d+) tokens, (?P<model>[\d.]+) s model, (?P<overhead>[\d.]+) s overhead"
    r"(?:, candidate (?P<winner>\d+) of (?P<generated>\d+))?"
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
    winner: int = 1
    generated: int = 1

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
            int(match["winner"] or 1),
            int(match["generated"] or 1),
        )
        found[(install.target, install.selector)] = install
    return found


def start(root: Path, model: str, attempts: int, backend: str, candidates: int) -> DaemonProcess:
    args = ["--backend", backend, "--model", model, "--candidates", str(candidates)]
    return start_daemon(make_dirs(root), extra_args=args, env={ATTEMPTS_ENV: str(attempts)})


def oid_of(client: Client, name: str) -> str:
    reply = client.request(eval_request(name))
    return str(reply["result"]["$ref"])


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


SUITES: dict[str, tuple[Intent, ...]] = {"intents": INTENTS, "heldout": HELDOUT}
#: The suite this run sends (``--suite``).
SUITE: tuple[Intent, ...] = INTENTS


def miss_to_install(client: Client, daemon: DaemonProcess, count: int) -> list[tuple[IntentResult, str]]:
    """Run the first `count` intents; print the split of each installed one and the medians."""
    runs: list[tuple[IntentResult, str]] = []
    for index, intent in enumerate(SUITE[:count], 1):
        name = receiver_name(index)
        result = run_intent(client, intent, name)
        runs.append((result, name))
    by_target = installs(daemon.log_text())
    rows: list[tuple[IntentResult, Install]] = []
    for result, name in runs:
        intent = next(i for i in SUITE if i.selector == result.selector)
        install = by_target.get((oid_of(client, name), intent.python_selector))
        if install is not None:
            rows.append((result, install))
    passed = sum(1 for result, _ in runs if result.passed)
    print(f"\n1. miss -> installed ({len(rows)} of {len(runs)} intents installed a method)")
    print(f"   intents right (every case and slot check passed): {passed}/{len(runs)}")
    for result, _ in runs:
        if not result.passed:
            print(f"   - {result.selector}: {result.status}: {result.detail[:150]}")
    heads = (
        ("att", 3),
        ("cand", 4),
        ("tok", 4),
        ("model s", 8),
        ("overhead s", 10),
        ("share", 6),
        ("wall s", 7),
    )
    print(f"   {'selector':<22} " + " ".join(f"{h:>{w}}" for h, w in heads))
    for result, install in rows:
        share = install.overhead_s / install.total_s
        print(
            f"   {result.selector:<22} {install.attempts:>3} {install.generated:>4} {install.tokens:>4} "
            f"{install.model_s:>8.2f} "
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
    rates = [i.tokens / i.model_s for _, i in rows if i.model_s > 0]
    tps = statistics.median(rates) if rates else float("nan")  # a scripted model takes no time
    wall = statistics.median(r.wall_seconds for r, _ in rows)
    print(f"   median miss -> installed: {total:.2f} s (model {model:.2f} s, overhead {overhead:.3f} s)")
    print(f"   median overhead share: {share:.1%} [< 5 %]  (first-attempt installs only: {share_one:.1%})")
    print(f"   median tokens/s (tokens / model time): {tps:.1f}")
    print(f"   median client round trip of the miss (generate + install + re-send): {wall:.2f} s")
    return runs


def choices(client: Client, runs: list[tuple[IntentResult, str]]) -> None:
    """Dual agreement (what was installed) vs a plain majority, judged by the intent's cases."""
    print("\n1b. the choice among candidates (same candidates, two rules)")
    chosen_right = majority_right = differs = counted = 0
    for index, (result, name) in enumerate(runs):
        intent = next(i for i in SUITE if i.selector == result.selector)
        reply = client.request(history_request(name, intent.python_selector, 1, include_source=False))
        entries = reply.get("entries") or []
        record = (entries[0].get("provenance") or {}).get("candidates") if entries else None
        if not isinstance(record, dict) or entries[0].get("action") != "install":
            continue
        counted += 1
        chosen_right += result.passed
        majority_ok = result.passed
        source = record.get("majority_source")
        if source:
            differs += 1
            majority_ok = judge(client, intent, source, f"majority{index}")
        majority_right += majority_ok
        groups = "+".join(str(g) for g in record.get("groups", []))
        checks = f"{record.get('checks_passed', 0)}/{record.get('checks', 0)}"
        print(
            f"   {result.selector:<22} #{record.get('winner')} "
            f"of {record.get('generated')}/{record.get('k')} "
            f"groups {groups:<8} checks {checks:<4} {'right' if result.passed else 'wrong'}"
            + (
                f"; plain majority #{record.get('majority')}: {'right' if majority_ok else 'wrong'}"
                if source
                else ""
            )
        )
    print(
        f"   right: dual agreement {chosen_right}/{counted}, plain majority {majority_right}/{counted} "
        f"(the rules chose differently on {differs})"
    )


def judge(client: Client, intent: Any, source: str, name: str) -> bool:
    """Whether `source` passes `intent`'s cases on a fresh receiver (installed by hand)."""
    client.request(eval_request(f"lobby setSlot: '{name}' value: (genesis clone)"))
    for slot, value in intent.slots.items():
        client.request(send_request(name, "setSlot:value:", [slot, value]))
    reply = client.request(create_method_request(name, intent.python_selector, source))
    if reply["type"] != "create_method_reply":
        return False
    for case in intent.cases:
        answer = client.request(send_request(name, intent.selector, list(case.args)), timeout=30.0)
        if answer["type"] != "send_reply" or not case.accepts(answer.get("result")):
            return False
    if intent.after is not None:
        slot, expected = intent.after
        answer = client.request(send_request(name, slot, []))
        return bool(answer["type"] == "send_reply" and answer.get("result") == expected)
    return True


def second_calls(client: Client, runs: list[tuple[IntentResult, str]], sends: int, methods: int) -> None:
    """Generated (restricted) vs hand-written trusted (create_method, same body) through send, interleaved."""
    pairs = [(r, n) for r, n in runs if r.passed and r.source][:methods]
    print(
        f"\n2. second call: generated (restricted) vs create_method --trusted with the same body, "
        f"{sends} sends each"
    )
    if not pairs:
        print("   no generated method passed its checks: nothing to compare")
        return
    ratios: list[float] = []
    all_generated: list[float] = []
    all_hand: list[float] = []
    for index, (result, name) in enumerate(pairs):
        intent = next(i for i in SUITE if i.selector == result.selector)
        twin = f"hand{index}"
        client.request(eval_request(f"lobby setSlot: '{twin}' value: (genesis clone)"))
        for slot, value in intent.slots.items():
            client.request(send_request(twin, "setSlot:value:", [slot, value]))
        reply = client.request(
            create_method_request(twin, intent.python_selector, result.source, trusted=True)
        )
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
    parser.add_argument("--suite", choices=sorted(SUITES), default="intents", help="which intent set")
    parser.add_argument("--intents", type=int, default=None, help="how many of the suite's intents to run")
    parser.add_argument("--attempts", type=int, default=3)
    parser.add_argument("--candidates", type=int, default=4, help="K per miss (1: no candidates)")
    parser.add_argument("--backend", default="auto", help="the daemon's JIT backend")
    parser.add_argument("--sends", type=int, default=200)
    parser.add_argument("--methods", type=int, default=5, help="generated methods compared in part 2")
    args = parser.parse_args()
    global SUITE
    SUITE = SUITES[args.suite]
    count = len(SUITE) if args.intents is None else args.intents

    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory(prefix="bench-jit-") as tmp:
        daemon = start(Path(tmp), args.model, args.attempts, args.backend, args.candidates)
        try:
            with Client.from_connection_info(daemon.info, timeout=300.0, retries=0) as client:
                client.request(eval_request("lobby setSlot: 'warmup' value: (genesis clone)"))
                started = time.perf_counter()
                client.request(send_request("warmup", "double:", [4]))
                print(f"warm-up miss (model load + one generation): {time.perf_counter() - started:.1f} s")
                runs = miss_to_install(client, daemon, count)
                choices(client, runs)
                second_calls(client, runs, args.sends, args.methods)
        finally:
            daemon.stop()
    print(f"\nload average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
