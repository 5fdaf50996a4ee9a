"""Tokens per second of batos's local backends against their raw engines, same model and prompt.

``--engine llamacpp`` (the default): ``LlamaCppBackend`` (chat template,
chunked prompt evaluation, streaming callback, cancel checks) against raw
``llama_cpp.Llama.create_chat_completion`` on the same loaded GGUF, greedy,
each call from a cold context (``Llama.reset()``), so both include the
prompt. Then the prefix reuse: a repair turn's time to its first token
right after the first attempt (the system turn and the task are already in
the KV cache) against the same call from a cold context.

``--engine transformers``: ``TransformersBackend`` against raw
``model.generate`` on the same weights (a GGUF is converted on the first
run, which is timed as the load). ``both`` runs the two.

The prompt is batos's own (``prompt.method_messages`` for ``factorial:``
on a small receiver). Prints medians and the backend/raw ratios.

    python bench/bench_tokens.py [MODEL] [--engine llamacpp|transformers|both]
        [--runs N] [--tokens N] [--threads N] [--dtype auto]
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time
from typing import Any

from batos_core.jit.backends import default_model
from batos_core.jit.prompt import method_messages
from batos_core.jit.snapshot import ReceiverSnapshot

MESSAGES = method_messages(
    "factorial:",
    ReceiverSnapshot(name="genesis", data_slots={"balance": 100, "owner": "Ada"}),
    [5],
)
# A repair turn: what an attempt after a failed trial sends (the first two turns unchanged).
REPAIR = [
    *MESSAGES,
    {"role": "assistant", "content": "```python\ndef factorial_(self, n):\n    return n * n\n```"},
    {
        "role": "user",
        "content": "The trial failed: factorial_(5) returned 25, which is not the factorial of 5. "
        "Write the method again.",
    },
]


def bench_llamacpp(model: str, runs: int, tokens: int, threads: int | None) -> None:
    from batos_core.jit.backends.llamacpp_backend import LlamaCppBackend

    backend = LlamaCppBackend(model, n_threads=threads)
    backend.load()
    serving = backend.serving
    print(
        f"llamacpp {model}: loaded in {backend.load_seconds:.1f} s, {serving.quantization}, "
        f"{serving.engine}, {backend.n_threads} threads"
    )
    llm = backend.runtime
    through_backend, raw = [], []
    generation: Any = None
    for _ in range(runs):
        llm.reset()
        generation = backend.generate(
            MESSAGES, max_new_tokens=tokens, on_token=lambda _: None, cancel=threading.Event()
        )
        through_backend.append(generation.tokens_per_second)
        llm.reset()
        started = time.perf_counter()
        reply = llm.create_chat_completion(MESSAGES, max_tokens=tokens, temperature=0.0)
        raw.append(reply["usage"]["completion_tokens"] / (time.perf_counter() - started))
        if reply["choices"][0]["message"]["content"] != generation.text:
            print("  warning: the raw reply differs from the backend's")
    b, r = statistics.median(through_backend), statistics.median(raw)
    count = generation.tokens
    print(f"  backend: median {b:.2f} tokens/s over {runs} cold runs ({count} tokens, prompt included)")
    print(f"  raw Llama.create_chat_completion: median {r:.2f} tokens/s")
    print(f"  ratio backend/raw: {b / r:.2f}")
    _prefix_reuse(backend, runs)
    print("  last reply:\n" + generation.text)


def _prefix_reuse(backend: Any, runs: int) -> None:
    """A repair's first token right after the first attempt, against a cold context."""
    llm = backend.runtime
    warm, cold = [], []
    for _ in range(runs):
        llm.reset()
        backend.generate(MESSAGES, max_new_tokens=1)  # the first attempt fills the cache
        started = time.perf_counter()
        backend.generate(REPAIR, max_new_tokens=1)
        warm.append(time.perf_counter() - started)
        llm.reset()
        started = time.perf_counter()
        backend.generate(REPAIR, max_new_tokens=1)
        cold.append(time.perf_counter() - started)
    first = len(llm.tokenize(_rendered(backend, MESSAGES), add_bos=False, special=True))
    total = len(llm.tokenize(_rendered(backend, REPAIR), add_bos=False, special=True))
    w, c = statistics.median(warm), statistics.median(cold)
    print(
        f"  prefix reuse: a repair turn ({total} prompt tokens, {first} shared with the first attempt) "
        f"reaches its first token in {w:.2f} s after the attempt vs {c:.2f} s cold "
        f"(median of {runs}; {c - w:.2f} s saved, {w / c:.2f} of the cold time)"
    )


def _rendered(backend: Any, messages: list[dict[str, str]]) -> bytes:
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    llm = backend.runtime
    formatter = Jinja2ChatFormatter(
        template=llm.metadata["tokenizer.chat_template"],
        eos_token=llm.detokenize([llm.token_eos()], special=True).decode(),
        bos_token=llm.detokenize([llm.token_bos()], special=True).decode(),
    )
    return str(formatter(messages=messages).prompt).encode()  # type: ignore[arg-type]


def bench_transformers(model: str, runs: int, tokens: int, dtype: str) -> None:
    from batos_core.jit.backends.transformers_backend import TransformersBackend

    backend = TransformersBackend(model, device="cpu", dtype=dtype)
    backend.load()
    print(f"transformers {model}: loaded in {backend.load_seconds:.1f} s ({backend.dtype})")
    through_backend, raw = [], []
    generation: Any = None
    for _ in range(runs):
        generation = backend.generate(
            MESSAGES, max_new_tokens=tokens, on_token=lambda _: None, cancel=threading.Event()
        )
        through_backend.append(generation.tokens_per_second)
        raw.append(_raw_transformers(backend, generation.tokens))
    b, r = statistics.median(through_backend), statistics.median(raw)
    print(f"  backend: median {b:.2f} tokens/s over {runs} runs ({generation.tokens} tokens)")
    print(f"  raw model.generate: median {r:.2f} tokens/s")
    print(f"  ratio backend/raw: {b / r:.2f}")
    print("  last reply:\n" + generation.text)


def _raw_transformers(backend: Any, tokens: int) -> float:
    """The same greedy generation with transformers directly, no callbacks."""
    import torch

    runtime = backend.runtime
    assert runtime is not None
    inputs = runtime.tokenizer.apply_chat_template(
        MESSAGES, add_generation_prompt=True, tokenize=True, return_dict=True, return_tensors="pt"
    )
    started = time.perf_counter()
    with torch.inference_mode():
        out = runtime.model.generate(
            **inputs,
            max_new_tokens=tokens,
            min_new_tokens=tokens,
            do_sample=False,
            temperature=None,
            top_p=None,
            top_k=None,
            pad_token_id=runtime.stop_ids[0],
        )
    new = out.shape[1] - inputs["input_ids"].shape[1]
    return float(new) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", nargs="?", default=default_model("cpu"))
    parser.add_argument("--engine", choices=("llamacpp", "transformers", "both"), default="llamacpp")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--tokens", type=int, default=80)
    parser.add_argument("--threads", type=int, default=None, help="llama.cpp threads (default: the cores)")
    parser.add_argument("--dtype", default="auto", help="transformers weights dtype")
    args = parser.parse_args()
    if args.engine in ("llamacpp", "both"):
        bench_llamacpp(args.model, args.runs, args.tokens, args.threads)
    if args.engine in ("transformers", "both"):
        bench_transformers(args.model, args.runs, args.tokens, args.dtype)


if __name__ == "__main__":
    main()
