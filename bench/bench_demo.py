"""The demo bench: a pulled model to ``display_yourself`` installed, as a new user runs it.

Each run starts from nothing but the pulled model: fresh data, state and
runtime directories, so the command starts the daemon, which loads the
model on the miss, writes the UI, tries it, installs it, and renders it
offscreen to a PNG. This is what ``make demo`` does after ``batos model
pull``. Printed per run and as medians:

* command to UI installed (the ``installed`` phase event, as the user's
  progress view shows it) and command to exit (the screenshot written)
                                                               [median <= 120 s]
* the model's share: tokens and model seconds from the install's provenance
* the raw baseline, measured in the same run on the same GGUF: loading
  ``llama_cpp.Llama`` plus generating the same number of tokens from the
  same UI prompt, greedy, with no batos code. batos's total over it is the
  ratio printed.

With ``--seeds N`` the runs are instead N different seeded sequences
(BATOS_JIT_SEED_OFFSET 0 .. N-1; the greedy first candidate is the same in
all): candidates are seeded by their index, so runs with one prompt repeat
each other, and only other seeds say how often the prompt gets a UI past its
trial. Printed: in how many of the N the UI was installed.

Run: ``PYTHONPATH=. .venv/bin/python bench/bench_demo.py [--runs N | --seeds N] [--model NAME]``.
Needs the model pulled and llama-cpp-python (the llm extra). Not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from batos_core.jit.prompt import ui_messages, ui_prefill  # noqa: E402
from batos_core.jit.snapshot import ReceiverSnapshot  # noqa: E402
from batos_core.models.cache import resolve_model  # noqa: E402
from batos_core.models.catalog import default_entry  # noqa: E402

BATOS = str(Path(sys.executable).with_name("batos"))


@dataclass
class DemoRun:
    """One demo from a cold start."""

    installed_s: float
    exit_s: float
    tokens: int
    model_s: float
    candidates: str
    returncode: int


def run_demo(model: str, seed_offset: int = 0) -> DemoRun:
    """``batos send genesis display_yourself --screenshot`` on fresh directories, timed."""
    with tempfile.TemporaryDirectory(prefix="batos-demo-") as tmp:
        env = dict(os.environ)
        env.update(
            BATOS_DATA_DIR=f"{tmp}/data",
            BATOS_STATE_DIR=f"{tmp}/state",
            BATOS_RUNTIME_DIR=f"{tmp}/run",
            BATOS_MODEL=model,
            BATOS_JIT_SEED_OFFSET=str(seed_offset),
        )
        env.pop("BATOS_BACKEND", None)
        command = [BATOS, "send", "genesis", "display_yourself", "--screenshot", f"{tmp}/ui.png"]
        started_epoch = time.time()
        started = time.perf_counter()
        returncode = subprocess.run(command, env=env, capture_output=True, check=False).returncode
        exit_s = time.perf_counter() - started
        installed_s = _installed_at(Path(tmp, "state")) - started_epoch
        provenance = _provenance(env)
        subprocess.run([BATOS, "daemon", "stop"], env=env, capture_output=True, check=False)
    return DemoRun(
        installed_s,
        exit_s,
        int(provenance.get("tokens", 0) or 0),
        float(provenance.get("model_seconds", 0.0) or 0.0),
        _candidates(provenance),
        returncode,
    )


def _installed_at(state: Path) -> float:
    """When the daemon logged the install (epoch seconds), from its log; NaN if it did not."""
    for log in state.glob("daemon-*.log"):
        for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
            if "installed display_yourself" in line:
                stamp, millis = line[:23].split(",")
                return time.mktime(time.strptime(stamp, "%Y-%m-%d %H:%M:%S")) + int(millis) / 1000
    return float("nan")


def _provenance(env: dict[str, str]) -> dict[str, object]:
    out = subprocess.run(
        [BATOS, "history", "genesis", "--selector", "display_yourself", "--json", "-n", "1"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    try:
        entries = json.loads(out.stdout)
    except ValueError:
        return {}
    if not entries or entries[0].get("action") != "install":
        return {}
    provenance = entries[0].get("provenance") or {}
    return provenance if isinstance(provenance, dict) else {}


def _candidates(provenance: dict[str, object]) -> str:
    value = provenance.get("candidates")
    if isinstance(value, dict):
        return f"K={value.get('k')} tried={value.get('generated')} winner={value.get('winner')}"
    return f"attempts={provenance.get('attempts')}"


def raw_baseline(model: str, tokens: int) -> tuple[float, float]:
    """(load seconds, seconds to generate ``tokens`` from the UI prompt) with llama_cpp alone."""
    from llama_cpp import Llama

    path = resolve_model(model)
    started = time.perf_counter()
    llm = Llama(model_path=path, n_ctx=4096, n_threads=_physical_cores(), verbose=False)
    load_s = time.perf_counter() - started
    messages = ui_messages(ReceiverSnapshot(name="genesis"))
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    template = llm.metadata["tokenizer.chat_template"]
    eos = llm.detokenize([llm.token_eos()]).decode("utf-8", "replace")
    bos = llm.detokenize([llm.token_bos()]).decode("utf-8", "replace")
    formatter = Jinja2ChatFormatter(template=template, eos_token=eos, bos_token=bos)
    prompt = formatter(messages=[dict(m) for m in messages]).prompt + ui_prefill()
    started = time.perf_counter()
    out = llm.create_completion(prompt, max_tokens=max(tokens, 1), temperature=0.0, stop=[])
    generate_s = time.perf_counter() - started
    made = out["usage"]["completion_tokens"]
    # Scale to exactly ``tokens`` when the model stopped early.
    return load_s, generate_s * tokens / made if made else generate_s


def _physical_cores() -> int:
    try:
        from batos_core.jit.backends.llamacpp_backend import physical_cores

        return physical_cores()
    except ImportError:
        return os.cpu_count() or 1


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=3, help="cold runs of the same seeds")
    parser.add_argument("--seeds", type=int, help="instead: one cold run per seed offset 0 .. N-1")
    parser.add_argument("--model", default=default_entry("cpu").name)
    args = parser.parse_args()
    offsets = list(range(args.seeds)) if args.seeds else [0] * args.runs
    kind = "seed offsets" if args.seeds else "cold runs"
    print(f"model {args.model}, {len(offsets)} {kind}, load average {os.getloadavg()[0]:.2f}")
    runs: list[DemoRun] = []
    for index, offset in enumerate(offsets, start=1):
        run = run_demo(args.model, offset)
        runs.append(run)
        print(
            f"run {index} (seed offset {offset}): installed {run.installed_s:.1f} s, "
            f"exit {run.exit_s:.1f} s, {run.tokens} tokens, {run.model_s:.1f} s model, "
            f"{run.candidates}, rc={run.returncode}"
        )
    if args.seeds:
        passed = [r for r in runs if r.returncode == 0 and r.installed_s == r.installed_s]
        print(f"UI installed in {len(passed)} of {len(runs)} seeded sequences")
        runs = passed or runs
    installed = statistics.median(r.installed_s for r in runs)
    tokens = int(statistics.median(r.tokens for r in runs))
    load_s, generate_s = raw_baseline(args.model, tokens)
    raw = load_s + generate_s
    print(f"median command -> UI installed: {installed:.1f} s  [<= 120 s]")
    print(f"median command -> exit (screenshot written): {statistics.median(r.exit_s for r in runs):.1f} s")
    print(f"raw llama.cpp, load {load_s:.1f} s + {tokens} tokens in {generate_s:.1f} s = {raw:.1f} s")
    print(f"batos installed / raw: {installed / raw:.2f}x")


if __name__ == "__main__":
    main()
