"""The transformers backend's real loading and generation code, on a tiny random Llama."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import pytest

from batos_core.jit.backends import BackendError, GenerationCancelled
from batos_core.jit.backends.transformers_backend import TransformersBackend

from .tiny_models import TinyModel

MESSAGES = [
    {"role": "system", "content": "You write Python."},
    {"role": "user", "content": "Write one Python method for a batos object."},
]


def reference_reply(tiny: TinyModel, max_new_tokens: int, dtype: str) -> str:
    """Greedy reply computed with transformers directly, decoding only the new ids."""
    import copy

    import torch

    ids = tiny.tokenizer.apply_chat_template(
        MESSAGES, add_generation_prompt=True, tokenize=True, return_dict=True, return_tensors="pt"
    )
    with torch.inference_mode():
        model = copy.deepcopy(tiny.model).to(getattr(torch, dtype))
        out = model.generate(
            **ids,
            max_new_tokens=max_new_tokens,
            do_sample=False,
            eos_token_id=tiny.tokenizer.eos_token_id,
            pad_token_id=tiny.tokenizer.pad_token_id,
        )
    return str(tiny.tokenizer.decode(out[0, ids["input_ids"].shape[1] :], skip_special_tokens=True))


def test_loading_is_lazy_and_happens_once(tiny_model: TinyModel) -> None:
    backend = TransformersBackend(str(tiny_model.directory), device="cpu")
    assert not backend.loaded
    backend.load()
    first = backend.load_seconds
    backend.load()
    assert backend.loaded and backend.load_seconds == first
    assert backend.device == "cpu" and backend.dtype in ("bfloat16", "float32")


def test_dtype_can_be_chosen(tiny_model: TinyModel) -> None:
    backend = TransformersBackend(str(tiny_model.directory), device="cpu", dtype="float32")
    backend.load()
    assert backend.dtype == "float32"
    with pytest.raises(BackendError, match="not a floating-point torch dtype"):
        TransformersBackend(str(tiny_model.directory), device="cpu", dtype="int8").load()


def test_generates_only_new_tokens_and_streams_them(tiny_model: TinyModel) -> None:
    backend = TransformersBackend(str(tiny_model.directory), device="cpu")
    pieces: list[str] = []
    generation = backend.generate(MESSAGES, max_new_tokens=10, on_token=pieces.append)
    assert generation.backend == "transformers"
    assert generation.model_id == str(tiny_model.directory)
    assert 0 < generation.tokens <= 10
    assert "".join(pieces) == generation.text
    assert generation.text == reference_reply(tiny_model, 10, str(backend.dtype))
    assert "assistant" not in generation.text and "batos object" not in generation.text
    assert generation.stopped_at_cap == (generation.tokens == 10)


def test_a_reply_cut_at_the_cap_says_so_and_serving_names_the_dtype(tiny_model: TinyModel) -> None:
    backend = TransformersBackend(str(tiny_model.directory), device="cpu")
    cut = backend.generate(MESSAGES, max_new_tokens=2)
    assert cut.tokens == 2 and cut.stopped_at_cap
    serving = backend.serving
    assert serving.engine.startswith("transformers ") and serving.quantization == backend.dtype


def test_greedy_is_deterministic_and_sampling_runs(tiny_model: TinyModel) -> None:
    backend = TransformersBackend(str(tiny_model.directory), device="cpu")
    first = backend.generate(MESSAGES, max_new_tokens=8)
    assert backend.generate(MESSAGES, max_new_tokens=8).text == first.text
    sampled = backend.generate(MESSAGES, max_new_tokens=8, temperature=0.8)
    assert 0 < sampled.tokens <= 8


def test_cancel_stops_between_tokens(tiny_model: TinyModel) -> None:
    backend = TransformersBackend(str(tiny_model.directory), device="cpu")
    cancel = threading.Event()
    pieces: list[str] = []

    def on_token(piece: str) -> None:
        pieces.append(piece)
        cancel.set()

    with pytest.raises(GenerationCancelled) as raised:
        backend.generate(MESSAGES, max_new_tokens=50, on_token=on_token, cancel=cancel)
    assert 1 <= len(pieces) <= 2  # the streamer may flush once more at the end
    assert raised.value.partial.startswith(pieces[0])


def test_cancel_set_before_the_call_generates_nothing(tiny_model: TinyModel) -> None:
    backend = TransformersBackend(str(tiny_model.directory), device="cpu")
    cancel = threading.Event()
    cancel.set()
    pieces: list[str] = []
    with pytest.raises(GenerationCancelled):
        backend.generate(MESSAGES, max_new_tokens=5, on_token=pieces.append, cancel=cancel)
    assert pieces == []


def test_gguf_is_converted_once_into_the_cache(
    tiny_model: TinyModel, model_cache: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="batos_core.jit.backends.gguf_convert")
    from_dir = TransformersBackend(str(tiny_model.directory), device="cpu")
    expected = from_dir.generate(MESSAGES, max_new_tokens=10).text

    first = TransformersBackend(str(tiny_model.gguf), device="cpu")
    assert first.generate(MESSAGES, max_new_tokens=10).text == expected
    converted = list((model_cache / "converted").iterdir())
    assert len(converted) == 1 and (converted[0] / "model.safetensors").is_file()
    assert not list((model_cache / "converted").glob("*.part"))

    second = TransformersBackend(str(tiny_model.gguf), device="cpu")
    assert second.generate(MESSAGES, max_new_tokens=10).text == expected
    conversions = [r for r in caplog.records if r.getMessage().startswith("converted ")]
    assert len(conversions) == 1


def test_unknown_and_unpulled_models_fail_clearly(model_cache: Path) -> None:
    with pytest.raises(BackendError, match="no model 'no-such-model'"):
        TransformersBackend("no-such-model", device="cpu").load()
    with pytest.raises(BackendError, match=r"batos model pull qwen2\.5-coder-0\.5b-instruct"):
        TransformersBackend("qwen2.5-coder-0.5b-instruct", device="cpu").load()


@pytest.mark.parametrize("device", ["cuda", "cuda:1"])
def test_cuda_asked_for_on_a_machine_without_one_fails_clearly(tiny_model: TinyModel, device: str) -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU (bench/gpu_check.py covers the CUDA path)")
    # Before: device_map="auto" quietly put the model on the CPU while the
    # backend reported "cuda".
    with pytest.raises(BackendError, match="torch sees no CUDA GPU"):
        TransformersBackend(str(tiny_model.directory), device=device).load()
