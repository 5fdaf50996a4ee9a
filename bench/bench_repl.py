"""REPL latency: `batos repl` from command to first prompt, and completion of a deep receiver.

Run: .venv/bin/python bench/bench_repl.py [--runs N]

1. Start-up: spawn `batos repl` on a pseudo-terminal (as a person's shell
   would) against a running daemon and time until the prompt text appears;
   median of N runs. Baseline in the same run: `python -c pass` on the same
   pty (the interpreter's own start). Target: < 300 ms. Also timed: when the
   prompt is live, i.e. a word typed the moment the prompt shows has been
   drawn by prompt_toolkit (the instant prompt holds keys until then;
   ``BATOS_INSTANT_PROMPT=0`` makes the two moments one).
2. Completion: a receiver with 200 slots spread over itself and 3 parents.
   Cold = a complete_request round trip (cache cleared each time) plus
   filtering, through the real completer; warm = the completer answering
   from its per-receiver cache. p95 over N; baseline: the same completion for
   `genesis` (a handful of slots). Target: p95 < 50 ms.
"""

from __future__ import annotations

import argparse
import os
import pty
import resource
import select
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from prompt_toolkit.completion import CompleteEvent
from prompt_toolkit.document import Document

BIN = Path(sys.executable).parent
PROMPT = b"batos>"  # the space after it is drawn as a cursor move
CPR_REQUEST = b"\x1b[6n"
PROBE = b"wxyz"  # typed at the first prompt; one identifier, so the lexer draws it in one piece
CPU_TIMES: list[float] = []


@dataclass
class Start:
    """When a run's prompt appeared, and when typing first showed up on it (seconds)."""

    prompt: float
    live: float = float("nan")


def time_to_text(argv: list[str], environ: dict[str, str], marker: bytes | None) -> Start:
    """Spawn `argv` on a pty; time until `marker` appears (or the process exits if None).

    With a marker (the REPL's prompt), the probe word is typed the moment the
    prompt shows, and the run also records when the REPL draws it: the prompt
    is live, keys are edited and shown. The instant prompt (see
    batos_cli/repl/instant_prompt.py) shows before prompt_toolkit has loaded
    and holds typed keys until it has, so the two moments differ.

    The child's CPU time (user + system, whole run) is appended to CPU_TIMES:
    on a loaded machine it says more than the wall clock.
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    master, slave = pty.openpty()
    started = time.perf_counter()
    proc = subprocess.Popen(
        argv, stdin=slave, stdout=slave, stderr=slave, env=environ, start_new_session=True
    )
    os.close(slave)
    seen = b""
    result = Start(float("nan"))
    try:
        while True:
            ready, _, _ = select.select([master], [], [], 30)
            if not ready:
                raise RuntimeError(f"nothing within 30 s; saw {seen[-300:]!r}")
            try:
                chunk = os.read(master, 65536)
            except OSError:  # the child closed the pty
                chunk = b""
            now = time.perf_counter() - started
            if not chunk:
                result.prompt = now
                break
            if CPR_REQUEST in chunk:
                os.write(master, b"\x1b[1;1R")  # answer the cursor position request, as a terminal does
            seen += chunk
            if marker is None:
                continue
            if result.prompt != result.prompt and marker in seen:  # nan: not seen yet
                result.prompt = now
                seen = seen[seen.index(marker) + len(marker) :]
                os.write(master, PROBE)
            elif result.prompt == result.prompt and PROBE in seen:
                result.live = now
                os.write(master, b"\x03\x04")  # Ctrl-C drops the line, Ctrl-D leaves
                break
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    CPU_TIMES.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return result


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def deep_receiver_source() -> str:
    """200 slots: 50 on each of three parents and 50 on the receiver itself."""

    def literal(prefix: str, parent: str | None) -> str:
        slots = [f"{prefix}{i} <- {i}" for i in range(50)]
        if parent:
            slots.append(f"parent* = {parent}")
        return "(| " + ". ".join(slots) + " |)"

    return (
        f"p1 := {literal('alpha', 'genesis')}. p2 := {literal('beta', 'p1')}. "
        f"p3 := {literal('gamma', 'p2')}. kid := {literal('delta', 'p3')}"
    )


def bench_completion(info: object, runs: int) -> None:
    from batos_cli.repl.completer import SelfCompleter
    from batos_cli.repl.remote import Remote
    from batos_core.protocol.client import raise_for_error

    remote = Remote(info, timeout=10.0)  # type: ignore[arg-type]
    reply = remote.evaluate(deep_receiver_source(), {})
    raise_for_error(reply)
    variables = reply["variables"]
    completer = SelfCompleter(remote, lambda: variables)
    event = CompleteEvent(completion_requested=True)

    def one(text: str, cold: bool) -> tuple[float, int]:
        if cold:
            remote.cache.clear()
        started = time.perf_counter()
        found = list(completer.get_completions(Document(text), event))
        return time.perf_counter() - started, len(found)

    one("kid ", True)  # connect once
    _, total = one("kid ", True)
    cold = [one("kid ", True)[0] for _ in range(runs)]
    warm = [one("kid al", False)[0] for _ in range(runs)]
    base = [one("genesis ", True)[0] for _ in range(runs)]
    remote.close()
    p95, base95 = percentile(cold, 0.95), percentile(base, 0.95)
    print(f"completion 'kid <TAB>' ({total} selectors offered, 200 data slots over 3 parents)")
    print(f"  cold p95 {p95 * 1e3:.1f} ms (median {statistics.median(cold) * 1e3:.1f} ms)  target < 50 ms")
    print(f"  warm p95 {percentile(warm, 0.95) * 1e3:.2f} ms (cached per receiver)")
    print(f"  baseline 'genesis <TAB>' cold p95 {base95 * 1e3:.1f} ms; ratio {p95 / base95:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="batos-bench-") as base:
        root = Path(base)
        environ = {
            **os.environ,
            "BATOS_RUNTIME_DIR": str(root / "run"),
            "BATOS_STATE_DIR": str(root / "state"),
            "BATOS_DATA_DIR": str(root / "data"),
            "BATOS_IMAGE": str(root / "image.fs"),
            "BATOS_BACKEND": "none",
            "TERM": "xterm-256color",
        }
        subprocess.run([str(BIN / "batos"), "daemon", "start"], env=environ, check=True, capture_output=True)
        try:
            os.environ.update(environ)
            from batos_cli import connect
            from batos_core.daemon_config import DaemonConfig

            info = connect.running(DaemonConfig(image=environ["BATOS_IMAGE"], runtime_dir=root / "run"))
            assert info is not None, "the daemon did not start"
            time_to_text([str(BIN / "batos"), "repl"], environ, PROMPT)  # warm the OS file cache
            CPU_TIMES.clear()
            starts = [time_to_text([str(BIN / "batos"), "repl"], environ, PROMPT) for _ in range(args.runs)]
            repl_cpu = statistics.median(CPU_TIMES)
            CPU_TIMES.clear()
            raw = [
                time_to_text([sys.executable, "-c", "pass"], environ, None).prompt for _ in range(args.runs)
            ]
            raw_cpu = statistics.median(CPU_TIMES)
            print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
            prompts = [s.prompt for s in starts]
            lives = [s.live for s in starts]
            median, live, raw_median = map(statistics.median, (prompts, lives, raw))
            print(
                f"batos repl -> first prompt: median {median * 1e3:.0f} ms over {args.runs} runs "
                f"(min {min(prompts) * 1e3:.0f}, max {max(prompts) * 1e3:.0f})  target < 300 ms"
            )
            print(
                f"  -> prompt live (a word typed at the first prompt is drawn): median {live * 1e3:.0f} ms "
                f"(min {min(lives) * 1e3:.0f}, max {max(lives) * 1e3:.0f})"
            )
            print(
                f"  baseline python -c pass: median {raw_median * 1e3:.0f} ms; "
                f"ratio {median / raw_median:.1f}x (first prompt), {live / raw_median:.1f}x (live)"
            )
            print(
                f"  CPU time (user+sys) median: batos repl {repl_cpu * 1e3:.0f} ms, "
                f"python {raw_cpu * 1e3:.0f} ms"
            )
            bench_completion(info, args.runs * 4)
        finally:
            subprocess.run([str(BIN / "batos"), "daemon", "stop"], env=environ, capture_output=True)


if __name__ == "__main__":
    main()
