"""GPU check of the transformers backend's CUDA path: NF4 4-bit via bitsandbytes, ``device_map="auto"``.

Builds a small random Llama offline (the tokenizer of the backend tests,
``tests/unit/backends/tiny_models.py``, with layers wide enough for
bitsandbytes to quantize), saves it to a temporary directory, and loads it
through batos's own code path (``make_backend`` -> ``TransformersBackend`` ->
``hf_runtime.load``). Then it checks:

* every decoder Linear is a bitsandbytes ``Linear4bit`` with NF4 weights and
  bf16 compute (4-bit mode), and every parameter sits on the chosen device;
* the memory footprint against the same model loaded unquantized in bf16;
* the backend's ``generate`` (streaming callback, prefill, cancellation)
  decodes only the new tokens, and its greedy reply matches a plain
  ``model.generate`` on the same runtime;

and prints load time, tokens/s and the decoded (random) text. A JSON summary
goes to ``$OUT/gpu_check.json`` (``/tmp`` where ``OUT`` is unset). Exit 1 on a
failed check, 2 on an unexpected error. Not a test, and not run by
``make bench``.

On the GPU machine (bitsandbytes carried as a wheel): ``bash bench/gpu_check.sh``.
Here, the same flow on CPU without bitsandbytes:
``PYTHONPATH=. .venv/bin/python bench/gpu_check.py --device cpu --no-4bit``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

MESSAGES = [
    {"role": "system", "content": "You write Python."},
    {"role": "user", "content": "Write one Python method for a batos object."},
]
PREFILL = "def factorial_(self, n):"


class CheckFailed(Exception):
    """A check of this script did not hold."""


def check(condition: bool, message: str) -> None:
    if not condition:
        raise CheckFailed(message)


def log(message: str) -> None:
    print(f"[gpu_check {time.strftime('%H:%M:%S')}] {message}", flush=True)


def build_model(directory: Path, hidden: int, intermediate: int, layers: int) -> dict[str, Any]:
    """Save a random Llama and the backend tests' tokenizer to ``directory``."""
    import transformers

    from tests.unit.backends.tiny_models import _model, _tokenizer

    transformers.utils.logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    tokenizer = _tokenizer()
    model = _model(
        tokenizer, hidden=hidden, intermediate=intermediate, layers=layers, heads=8, kv_heads=4, positions=512
    )
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return {
        "hidden_size": hidden,
        "intermediate_size": intermediate,
        "layers": layers,
        "vocab_size": len(tokenizer),
        "parameters": sum(p.numel() for p in model.parameters()),
    }


def check_placement(model: Any, device: str) -> dict[str, Any]:
    """Every parameter and buffer on ``device``; accelerate's map (if any) names no cpu/disk."""
    wrong = [n for n, p in model.named_parameters() if p.device.type != device.split(":")[0]]
    wrong += [n for n, b in model.named_buffers() if b.device.type != device.split(":")[0]]
    check(not wrong, f"tensors not on {device}: {wrong[:5]} ({len(wrong)} in all)")
    device_map = getattr(model, "hf_device_map", None)
    if device_map is not None:
        places = {str(v) for v in device_map.values()}
        check(not places & {"cpu", "disk"}, f"accelerate offloaded parts: {device_map}")
    return {"hf_device_map": {k: str(v) for k, v in device_map.items()} if device_map else None}


def check_quantized(model: Any, layers: int) -> dict[str, Any]:
    """The decoder's Linears are NF4 ``Linear4bit`` with bf16 compute; lm_head stays plain."""
    import bitsandbytes
    import torch

    bnb: Any = bitsandbytes  # its stubs export neither Linear4bit nor Params4bit
    quantized: list[str] = []
    plain: list[str] = []
    for name, module in model.named_modules():
        if isinstance(module, bnb.nn.Linear4bit):
            quantized.append(name)
            weight: Any = module.weight
            check(isinstance(weight, bnb.nn.Params4bit), f"{name}: weight is {type(weight).__name__}")
            check(weight.quant_type == "nf4", f"{name}: quant_type {weight.quant_type!r}, not nf4")
            check(
                module.compute_dtype == torch.bfloat16,
                f"{name}: compute dtype {module.compute_dtype}, not bfloat16",
            )
            check(weight.dtype == torch.uint8, f"{name}: packed weight dtype {weight.dtype}, not uint8")
            check(weight.quant_state is not None, f"{name}: no quant_state (not quantized)")
        elif isinstance(module, torch.nn.Linear):
            plain.append(name)
    expected = 7 * layers  # q, k, v, o, gate, up, down
    check(len(quantized) == expected, f"{len(quantized)} Linear4bit modules, expected {expected}")
    check(all(n.endswith("lm_head") for n in plain), f"unquantized decoder Linears: {plain}")
    first = model.model.layers[0].self_attn.q_proj
    return {
        "linear4bit_modules": len(quantized),
        "plain_linear_modules": plain,
        "quant_type": first.weight.quant_type,
        "compute_dtype": str(first.compute_dtype).removeprefix("torch."),
        "blocksize": first.weight.blocksize,
        "quantization_config": model.config.quantization_config.to_dict()
        if hasattr(model.config.quantization_config, "to_dict")
        else model.config.quantization_config,
    }


def sync(device: str) -> None:
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()


def exercise_generate(backend: Any, device: str, max_new_tokens: int) -> dict[str, Any]:
    """The backend's real generate: streaming, new tokens only, prefill, cancellation."""
    import torch

    from batos_core.jit.backends import GenerationCancelled, hf_runtime

    # Warm-up (CUDA kernels, caches): not timed.
    backend.generate(MESSAGES, max_new_tokens=4)
    sync(device)

    pieces: list[str] = []
    first_piece_at: list[float] = []
    started = time.perf_counter()

    def on_token(piece: str) -> None:
        if not first_piece_at:
            first_piece_at.append(time.perf_counter() - started)
        pieces.append(piece)

    generation = backend.generate(MESSAGES, max_new_tokens=max_new_tokens, on_token=on_token)
    sync(device)
    seconds = time.perf_counter() - started
    text = generation.text
    log(f"generated {generation.tokens} tokens in {seconds:.3f} s ({generation.tokens / seconds:.1f} tok/s)")
    log(f"decoded text: {text!r}")

    check(0 < generation.tokens <= max_new_tokens, f"new token count {generation.tokens}")
    check("".join(pieces) == text, f"streamed pieces {''.join(pieces)!r} != reply {text!r}")
    for turn in MESSAGES:
        check(turn["content"] not in text, f"the prompt's {turn['role']} turn leaked into the reply")
    check("<|im_start|>" not in text and "<|im_end|>" not in text, "special tokens in the reply")

    # Reference: plain model.generate on the same runtime, decoding only ids past the prompt.
    runtime = backend.runtime
    inputs = runtime.tokenizer.apply_chat_template(
        MESSAGES, add_generation_prompt=True, tokenize=True, return_dict=True, return_tensors="pt"
    ).to(runtime.model.device)
    prompt_length = int(inputs["input_ids"].shape[1])
    config = hf_runtime._generation_config(runtime, max_new_tokens, 0.0)
    with torch.inference_mode():
        output = runtime.model.generate(**inputs, generation_config=config)
    new_ids = output[0, prompt_length:]
    reference = runtime.tokenizer.decode(new_ids, skip_special_tokens=True)
    full = runtime.tokenizer.decode(output[0], skip_special_tokens=False)
    reference_match = reference == text and int(new_ids.shape[0]) == generation.tokens
    check(full != text and len(full) > len(text), "decoded text is as long as prompt + reply")
    if not reference_match:
        message = (
            f"backend reply {text!r} ({generation.tokens} tokens) != reference new-token decode "
            f"{reference!r} ({int(new_ids.shape[0])} tokens)"
        )
        # Greedy decoding on the CPU is exact; GPU kernels may differ run to run.
        check(device != "cpu", message)
        log(f"WARN: {message}")

    # Prefill: the reply starts with it, the model continues after it.
    prefilled_pieces: list[str] = []
    prefilled = backend.generate(
        MESSAGES, max_new_tokens=8, prefill=PREFILL, on_token=prefilled_pieces.append
    )
    check(prefilled.text.startswith(PREFILL), f"prefill reply {prefilled.text!r}")
    check("".join(prefilled_pieces) == prefilled.text, "prefill: streamed pieces != reply")

    # Cancellation between tokens (CancelCriteria builds its flag on the model's device).
    cancel = threading.Event()
    cancelled_pieces: list[str] = []

    def cancel_after_first(piece: str) -> None:
        cancelled_pieces.append(piece)
        cancel.set()

    try:
        backend.generate(MESSAGES, max_new_tokens=64, on_token=cancel_after_first, cancel=cancel)
    except GenerationCancelled as error:
        cancelled_partial = error.partial
    else:
        raise CheckFailed("generation was not cancelled")

    return {
        "max_new_tokens": max_new_tokens,
        "new_tokens": generation.tokens,
        "seconds": round(seconds, 4),
        "tokens_per_second": round(generation.tokens / seconds, 2),
        "backend_tokens_per_second": round(generation.tokens_per_second, 2),
        "first_piece_seconds": round(first_piece_at[0], 4) if first_piece_at else None,
        "streamed_pieces": len(pieces),
        "text": text,
        "reference_text": reference,
        "reference_match": reference_match,
        "prompt_tokens": prompt_length,
        "prefill_text": prefilled.text,
        "cancelled_partial": cancelled_partial,
        "cancelled_after_pieces": len(cancelled_pieces),
    }


def load_backend(directory: Path, device: str, quantize_4bit: bool, dtype: str) -> Any:
    from batos_core.jit.backends import make_backend

    backend: Any = make_backend(
        {
            "backend": "transformers",
            "model": str(directory),
            "device": device,
            "dtype": dtype,
            "quantize_4bit": quantize_4bit,
        }
    )
    started = time.perf_counter()
    backend.load()
    sync(device)
    log(
        f"loaded (4bit={quantize_4bit}, dtype={dtype}) on {backend.device} as {backend.dtype} "
        f"in {time.perf_counter() - started:.3f} s"
    )
    return backend


def release(backend: Any, device: str) -> None:
    import gc

    backend._loaded = None
    gc.collect()
    if device.startswith("cuda"):
        import torch

        torch.cuda.empty_cache()


def run(args: argparse.Namespace, summary: dict[str, Any]) -> None:
    import torch
    import transformers

    from batos_core.jit.backends import BackendConfig

    versions: dict[str, Any] = {
        "python": sys.version.split()[0],
        "torch": torch.__version__,
        "torch_cuda": torch.version.cuda,
        "transformers": transformers.__version__,
    }
    try:
        import accelerate

        versions["accelerate"] = accelerate.__version__
    except ImportError:
        versions["accelerate"] = None
    if args.quantize_4bit:
        import bitsandbytes

        versions["bitsandbytes"] = bitsandbytes.__version__
    summary["versions"] = versions
    log(f"versions: {versions}")
    if args.device.startswith("cuda"):
        check(torch.cuda.is_available(), "torch sees no CUDA device")
        summary["gpu"] = torch.cuda.get_device_name(0)
        log(f"GPU: {summary['gpu']}")
    check(BackendConfig().quantize_4bit, "BackendConfig's default quantize_4bit is not True")

    with tempfile.TemporaryDirectory(prefix="batos-gpu-check-") as tmp:
        directory = Path(tmp) / "hf"
        started = time.perf_counter()
        summary["model"] = build_model(directory, args.hidden, args.intermediate, args.layers)
        summary["build_seconds"] = round(time.perf_counter() - started, 3)
        log(f"built {summary['model']} in {summary['build_seconds']} s")

        # The path under test: 4-bit on CUDA (or the plain path with --no-4bit).
        backend = load_backend(directory, args.device, args.quantize_4bit, "auto")
        runtime = backend.runtime
        main: dict[str, Any] = {
            "load_seconds": round(backend.load_seconds, 4),
            "device": backend.device,
            "dtype": backend.dtype,
            "model_device": str(runtime.model.device),
            "stop_ids": runtime.stop_ids,
            "memory_footprint": int(runtime.model.get_memory_footprint()),
        }
        check(backend.device == args.device, f"backend reports device {backend.device}")
        main.update(check_placement(runtime.model, args.device))
        if args.quantize_4bit:
            check(backend.dtype == "nf4/bfloat16", f"backend reports dtype {backend.dtype}")
            check(getattr(runtime.model, "is_loaded_in_4bit", False), "model.is_loaded_in_4bit is not set")
            main.update(check_quantized(runtime.model, args.layers))
        else:
            check(not getattr(runtime.model, "is_loaded_in_4bit", False), "4-bit although --no-4bit")
        summary["main"] = main
        summary["generate"] = exercise_generate(backend, args.device, args.max_new_tokens)
        if args.device.startswith("cuda"):
            summary["main"]["max_memory_allocated"] = int(torch.cuda.max_memory_allocated())
        release(backend, args.device)

        # The same model unquantized in bf16, for the footprint (and a speed baseline).
        if args.device.startswith("cuda"):
            torch.cuda.reset_peak_memory_stats()
        reference = load_backend(directory, args.device, False, "bfloat16")
        check(reference.dtype == "bfloat16", f"reference dtype {reference.dtype}")
        check_placement(reference.runtime.model, args.device)
        ref_footprint = int(reference.runtime.model.get_memory_footprint())
        reference.generate(MESSAGES, max_new_tokens=4)  # warm-up
        sync(args.device)
        started = time.perf_counter()
        ref_generation = reference.generate(MESSAGES, max_new_tokens=args.max_new_tokens)
        sync(args.device)
        ref_seconds = time.perf_counter() - started
        summary["bf16_reference"] = {
            "load_seconds": round(reference.load_seconds, 4),
            "memory_footprint": ref_footprint,
            "new_tokens": ref_generation.tokens,
            "tokens_per_second": round(ref_generation.tokens / ref_seconds, 2),
            "text": ref_generation.text,
        }
        release(reference, args.device)
        ratio = main["memory_footprint"] / ref_footprint
        summary["footprint_ratio_vs_bf16"] = round(ratio, 4)
        log(f"footprint {main['memory_footprint']} B vs bf16 {ref_footprint} B (ratio {ratio:.3f})")
        if args.quantize_4bit:
            # NF4 packs two weights a byte (plus absmax per 64); embeddings, norms, lm_head stay bf16.
            check(ratio < 0.6, f"4-bit footprint is {ratio:.2f} of bf16's, expected < 0.6")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--device", choices=["cuda", "cuda:0", "cpu"], default="cuda")
    parser.add_argument("--no-4bit", dest="quantize_4bit", action="store_false", help="skip bitsandbytes")
    parser.add_argument("--hidden", type=int, default=512)
    parser.add_argument("--intermediate", type=int, default=1536)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--max-new-tokens", type=int, default=48)
    args = parser.parse_args()

    summary: dict[str, Any] = {"args": vars(args), "ok": False}
    started = time.perf_counter()
    code = 0
    try:
        run(args, summary)
        summary["ok"] = True
    except CheckFailed as failure:
        summary["error"] = f"check failed: {failure}"
        code = 1
    except Exception as error:
        summary["error"] = f"{type(error).__name__}: {error}"
        summary["traceback"] = traceback.format_exc()
        code = 2
    summary["total_seconds"] = round(time.perf_counter() - started, 3)
    out = Path(os.environ.get("OUT") or "/tmp") / "gpu_check.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(summary, indent=2, default=str))
    print(json.dumps(summary, indent=2, default=str))
    if code:
        print(f"GPU CHECK FAILED: {summary['error']}", file=sys.stderr)
        if "traceback" in summary:
            print(summary["traceback"], file=sys.stderr)
    else:
        log(f"GPU CHECK PASSED in {summary['total_seconds']} s (summary: {out})")
    return code


if __name__ == "__main__":
    sys.exit(main())
