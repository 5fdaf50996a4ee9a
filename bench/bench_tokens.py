"""Tokens per second of the transformers backend against raw ``model.generate``.

Loads a model through ``TransformersBackend`` (a catalog name, directory,
hub id or ``.gguf``; a GGUF is converted on the first run, which is timed
as the load), then generates a short method several times through the
backend (chat template, streaming callback, cancel check) and, as the raw
baseline in the same run, with ``model.generate`` on the same weights and
prompt. Prints medians and the backend/raw ratio.

    python bench/bench_tokens.py [MODEL] [--runs N] [--tokens N] [--dtype auto]
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time

from batos_core.jit.backends import default_model
from batos_core.jit.backends.transformers_backend import TransformersBackend

MESSAGES = [
    {
        "role": "system",
        "content": "You write one Python method. Reply with a single Python code block.",
    },
    {
        "role": "user",
        "content": "The receiver got factorial: with one argument, the int 5. "
        "Write the method with this header:\ndef factorial_(self, n):",
    },
]


def raw_tokens_per_second(backend: TransformersBackend, tokens: int) -> float:
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
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--tokens", type=int, default=40)
    parser.add_argument("--dtype", default="auto")
    args = parser.parse_args()

    backend = TransformersBackend(args.model, device="cpu", dtype=args.dtype)
    backend.load()
    print(f"model {args.model}: loaded in {backend.load_seconds:.1f} s ({backend.dtype})")
    through_backend, raw = [], []
    for _ in range(args.runs):
        generation = backend.generate(
            MESSAGES, max_new_tokens=args.tokens, on_token=lambda _: None, cancel=threading.Event()
        )
        through_backend.append(generation.tokens_per_second)
        raw.append(raw_tokens_per_second(backend, generation.tokens))
    b, r = statistics.median(through_backend), statistics.median(raw)
    print(f"backend: median {b:.2f} tokens/s over {args.runs} runs ({generation.tokens} tokens)")
    print(f"raw model.generate: median {r:.2f} tokens/s")
    print(f"ratio backend/raw: {b / r:.2f}")
    print("last reply:\n" + generation.text)


if __name__ == "__main__":
    main()
