"""The torch/transformers half of the transformers backend.

This module imports torch and transformers at its top, so only
``TransformersBackend.load`` imports it: nothing the CLI imports may pull
it in. It owns device and dtype choice, loading, and the streaming and
cancellation hooks handed to ``model.generate``.
"""

from __future__ import annotations

import copy
import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
import transformers
from packaging.version import Version
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    GenerationConfig,
    StoppingCriteria,
    StoppingCriteriaList,
)
from transformers.generation.streamers import BaseStreamer

from batos_core.jit.backends.base import Message, TokenCallback

log = logging.getLogger(__name__)

# End-of-turn markers of common chat templates. A converted GGUF often names
# only the end-of-text token as EOS, so the model would run past its turn.
_END_OF_TURN = ("<|im_end|>", "<|eot_id|>", "<|end|>", "<|endoftext|>", "<end_of_turn>")
_TOP_P = 0.95


@dataclass
class LoadedModel:
    """A model and tokenizer ready to generate, and where they run."""

    model: Any
    tokenizer: Any
    device: str
    dtype: str
    stop_ids: list[int]


def dtype_kwarg() -> str:
    """``dtype`` since transformers 4.56, ``torch_dtype`` before."""
    return "dtype" if Version(transformers.__version__) >= Version("4.56") else "torch_dtype"


def cpu_bf16_is_fast() -> bool:
    """Whether bf16 matmuls on this CPU run on native kernels.

    Without them (AVX2-only x86, for example) torch emulates bf16 and a
    0.5B model generates about 2.6x slower than in float32 (measured on
    the project's 2-core AVX2 machines), so float32 is used there.
    """
    try:
        native = bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        native = False  # a torch without the probe: assume emulation
    if not native:
        return False
    try:
        probe = torch.ones(4, 4, dtype=torch.bfloat16)
        return bool(torch.isfinite(probe @ probe).all())
    except RuntimeError:
        return False


def pick_dtype(device: str, requested: str) -> torch.dtype:
    """``auto``: bf16 on CUDA, and on a CPU with native bf16 kernels; else float32.

    Raises ``ValueError`` for a name that is not a torch floating dtype.
    """
    if requested != "auto":
        dtype = getattr(torch, requested, None)
        if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
            raise ValueError(f"not a floating-point torch dtype: {requested!r}")
        return dtype
    if is_cuda(device):
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if cpu_bf16_is_fast():
        return torch.bfloat16
    return torch.float32


def pick_device(device: str) -> str:
    """``auto`` -> ``cuda`` when a GPU is visible, else ``cpu``; ``cuda`` or
    ``cuda:N`` asked for on a machine whose torch sees no GPU raises
    ``RuntimeError`` (rather than quietly loading on the CPU)."""
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if is_cuda(device) and not torch.cuda.is_available():
        raise RuntimeError(f"device {device!r} was asked for, but torch sees no CUDA GPU")
    return device


def is_cuda(device: str) -> bool:
    """``cuda`` or ``cuda:N``."""
    return device == "cuda" or device.startswith("cuda:")


def bitsandbytes_available() -> bool:
    """Whether 4-bit quantization can be asked of transformers here."""
    import importlib.util

    return importlib.util.find_spec("bitsandbytes") is not None


def load(path: str, device: str, quantize_4bit: bool, dtype_name: str = "auto") -> LoadedModel:
    """Load a Transformers directory or hub id for ``device``.

    CUDA (``cuda`` or ``cuda:N``) with ``quantize_4bit``: NF4 via bitsandbytes
    with bf16 compute (fp16 on GPUs without bf16), placed by accelerate
    (``device_map="auto"``; ``cuda:N`` pins every layer to GPU N). Without
    bitsandbytes installed the weights load unquantized, with a warning.
    Otherwise the weights are in ``pick_dtype(device, dtype_name)``. The
    reported dtype of a 4-bit model is ``nf4/<compute dtype>``. Errors of
    transformers propagate (OSError for a missing or incomplete directory,
    ValueError for an unknown model type).

    The CUDA path was run on an H200 with a random 13M-parameter Llama
    (``bench/gpu_check.py``): 28 Linear4bit layers, NF4, bf16 compute, 0.27 of
    the bf16 footprint; the test suite itself has no GPU.
    """
    # tqdm bars would interleave with the daemon's log; loading is logged instead.
    transformers.utils.logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    tokenizer = AutoTokenizer.from_pretrained(path)
    kwargs: dict[str, Any] = {}
    dtype = pick_dtype(device, dtype_name)
    shown = str(dtype).removeprefix("torch.")
    if is_cuda(device):
        # accelerate places the layers; "cuda:N" keeps them all on that GPU.
        kwargs["device_map"] = "auto" if device == "cuda" else {"": device}
        if quantize_4bit and not bitsandbytes_available():
            log.warning("bitsandbytes is not installed: loading %s unquantized in %s", path, shown)
        elif quantize_4bit:
            compute = pick_dtype(device, "auto")
            kwargs["quantization_config"] = transformers.BitsAndBytesConfig(  # type: ignore[no-untyped-call]
                load_in_4bit=True,
                bnb_4bit_compute_dtype=compute,
                bnb_4bit_quant_type="nf4",
            )
            dtype = compute
            shown = "nf4/" + str(compute).removeprefix("torch.")
    kwargs[dtype_kwarg()] = dtype
    model: Any = AutoModelForCausalLM.from_pretrained(path, **kwargs)
    if "device_map" not in kwargs:
        model.to(device)
    model.eval()
    return LoadedModel(model, tokenizer, device, shown, _stop_ids(model, tokenizer))


def _stop_ids(model: Any, tokenizer: Any) -> list[int]:
    ids: list[int] = []
    configured = model.generation_config.eos_token_id
    for candidate in configured if isinstance(configured, list) else [configured]:
        if isinstance(candidate, int):
            ids.append(candidate)
    if isinstance(tokenizer.eos_token_id, int):
        ids.append(tokenizer.eos_token_id)
    vocab = tokenizer.get_vocab()
    ids.extend(vocab[token] for token in _END_OF_TURN if token in vocab)
    return sorted(set(ids))


class CancelCriteria(StoppingCriteria):
    """Stops generation between tokens once ``cancel`` is set."""

    def __init__(self, cancel: threading.Event) -> None:
        self.cancel = cancel

    def __call__(self, input_ids: torch.LongTensor, scores: Any, **kwargs: Any) -> torch.BoolTensor:
        flag = self.cancel.is_set()
        result = torch.full((input_ids.shape[0],), flag, dtype=torch.bool, device=input_ids.device)
        return result  # type: ignore[return-value]  # BoolTensor is a torch typing alias


class CallbackStreamer(BaseStreamer):
    """Calls ``on_token`` with each newly decoded piece of text.

    ``generate`` first hands over the prompt, which is skipped. Pieces are
    decoded from all new ids so far (multi-byte characters and merged
    tokens come out right); an incomplete UTF-8 sequence is held back.
    """

    def __init__(self, tokenizer: Any, on_token: TokenCallback) -> None:
        self.tokenizer = tokenizer
        self.on_token = on_token
        self.ids: list[int] = []
        self.emitted = ""
        self.prompt_seen = False

    def put(self, value: torch.Tensor) -> None:
        if not self.prompt_seen:
            self.prompt_seen = True
            return
        self.ids.extend(int(i) for i in value.reshape(-1).tolist())
        text = self.tokenizer.decode(self.ids, skip_special_tokens=True)
        if text.endswith("\ufffd"):
            return
        self._emit(text)

    def end(self) -> None:
        self._emit(self.tokenizer.decode(self.ids, skip_special_tokens=True))

    def _emit(self, text: str) -> None:
        if text.startswith(self.emitted) and len(text) > len(self.emitted):
            self.on_token(text[len(self.emitted) :])
        self.emitted = text


def generate(
    loaded: LoadedModel,
    messages: Sequence[Message],
    max_new_tokens: int,
    temperature: float,
    on_token: TokenCallback | None,
    cancel: threading.Event | None,
    prefill: str = "",
    seed: int | None = None,
) -> tuple[str, int, bool]:
    """Generate one reply; return (``prefill`` + the text of the new tokens, new token
    count, whether ``max_new_tokens`` ended it rather than an end-of-turn token).

    With a ``prefill`` the assistant turn is opened by the chat template and
    starts with that text, which the model continues.
    """
    chat = [dict(m) for m in messages]
    if prefill:
        prompt = loaded.tokenizer.apply_chat_template(chat, add_generation_prompt=True, tokenize=False)
        # The template already holds the special tokens (BOS and turn markers).
        inputs = loaded.tokenizer(prompt + prefill, add_special_tokens=False, return_tensors="pt")
    else:
        inputs = loaded.tokenizer.apply_chat_template(
            chat, add_generation_prompt=True, tokenize=True, return_dict=True, return_tensors="pt"
        )
    inputs = inputs.to(loaded.model.device)
    prompt_length = int(inputs["input_ids"].shape[1])
    criteria = StoppingCriteriaList([CancelCriteria(cancel)] if cancel is not None else [])
    streamer = CallbackStreamer(loaded.tokenizer, on_token) if on_token is not None else None
    if seed is not None and temperature > 0:
        torch.manual_seed(seed)
    with torch.inference_mode():
        output = loaded.model.generate(
            **inputs,
            generation_config=_generation_config(loaded, max_new_tokens, temperature),
            stopping_criteria=criteria,
            streamer=streamer,
        )
    new_ids = output[0, prompt_length:]
    text = loaded.tokenizer.decode(new_ids, skip_special_tokens=True)
    count = int(new_ids.shape[0])
    capped = count >= max_new_tokens and int(new_ids[-1]) not in loaded.stop_ids
    return prefill + text, count, capped


def _generation_config(loaded: LoadedModel, max_new_tokens: int, temperature: float) -> Any:
    config = copy.deepcopy(loaded.model.generation_config)
    assert isinstance(config, GenerationConfig)
    config.max_new_tokens = max_new_tokens
    config.max_length = None
    config.eos_token_id = loaded.stop_ids or None
    if config.pad_token_id is None and loaded.stop_ids:
        config.pad_token_id = loaded.stop_ids[0]
    if temperature > 0:
        config.do_sample = True
        config.temperature = temperature
        config.top_p = config.top_p if config.top_p not in (None, 1.0) else _TOP_P
    else:
        # Unset the sampling knobs a checkpoint may ship (Qwen sets them), so
        # greedy decoding raises no "flag is ignored" warnings.
        config.do_sample = False
        config.temperature = None
        config.top_p = None
        config.top_k = None
    return config
