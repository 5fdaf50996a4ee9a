"""The in-process backend: a Transformers causal LM on CPU or CUDA.

``model`` is a catalog name, a hub id, a local Transformers directory or a
``.gguf`` file (converted once into a cached safetensors directory). The
model loads lazily, once, under a lock; generations are serialised, since
one model instance is not safe to run from two threads at once. torch and
transformers are imported only when loading.

Weights: NF4 4-bit on CUDA (bitsandbytes), else bf16 on CUDA and on CPUs with
native bf16 kernels, float32 on other CPUs (``hf_runtime.pick_dtype``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from batos_core.jit.backends.base import (
    BackendError,
    Generation,
    GenerationCancelled,
    Message,
    Serving,
    TokenCallback,
    check_cancel,
)
from batos_core.models.cache import gguf_quantization, resolve_model
from batos_core.models.engine_plan import engine_name

if TYPE_CHECKING:
    from batos_core.jit.backends.hf_runtime import LoadedModel

log = logging.getLogger(__name__)


class TransformersBackend:
    """Generates with a locally loaded model; see the module docstring."""

    name = "transformers"

    def __init__(
        self, model: str, *, device: str = "auto", dtype: str = "auto", quantize_4bit: bool = True
    ) -> None:
        self.model_id = model
        self._device = device
        self._dtype = dtype
        self._quantize_4bit = quantize_4bit
        self._loaded: LoadedModel | None = None
        self._load_lock = threading.Lock()
        self._generate_lock = threading.Lock()
        self.load_seconds: float | None = None
        # Read once here (the header only): status replies must not read files.
        self._source_quantization = gguf_quantization(model)

    @property
    def loaded(self) -> bool:
        """Whether the model is in memory."""
        return self._loaded is not None

    @property
    def device(self) -> str | None:
        """Where the model runs (``cpu``/``cuda``) once loaded."""
        return self._loaded.device if self._loaded else None

    @property
    def dtype(self) -> str | None:
        """The weights' dtype once loaded (e.g. ``bfloat16``)."""
        return self._loaded.dtype if self._loaded else None

    @property
    def serving(self) -> Serving:
        """transformers and torch versions; the weights' dtype once loaded (and,
        for a GGUF, its quantization before de-quantizing)."""
        engine = engine_name(self.name)
        source = self._source_quantization
        if self._loaded is None:
            return Serving(engine, f"{source} (de-quantized on load)" if source else "", None)
        shown = f"{source} de-quantized to {self._loaded.dtype}" if source else self._loaded.dtype
        return Serving(engine, shown, self.load_seconds)

    @property
    def runtime(self) -> LoadedModel | None:
        """The loaded model and tokenizer (for benchmarks and diagnostics), or None."""
        return self._loaded

    def load(self) -> None:
        """Resolve, convert (a GGUF, once) and load the model; idempotent.

        Raises ``BackendError`` (with the cause chained) when transformers is
        not installed, the model is unknown or not pulled, or loading fails.
        """
        with self._load_lock:
            if self._loaded is not None:
                return
            started = time.perf_counter()
            try:
                self._loaded = self._load()
            except BackendError:
                raise
            except (ImportError, LookupError, OSError, ValueError, RuntimeError) as error:
                raise BackendError(f"cannot load model {self.model_id!r}: {error}") from error
            self.load_seconds = time.perf_counter() - started
            log.info(
                "loaded %s on %s (%s) in %.1f s",
                self.model_id, self._loaded.device, self._loaded.dtype, self.load_seconds,
            )  # fmt: skip

    def _load(self) -> LoadedModel:
        try:
            from batos_core.jit.backends import hf_runtime
        except ImportError as error:
            raise BackendError(
                "the transformers backend needs the llm extra: pip install 'batos[llm]'"
            ) from error
        from batos_core.jit.backends.gguf_convert import ensure_converted

        location = resolve_model(self.model_id)
        if location.endswith(".gguf") and Path(location).is_file():
            location = str(ensure_converted(Path(location)))
        device = hf_runtime.pick_device(self._device)
        return hf_runtime.load(location, device, self._quantize_4bit, self._dtype)

    def generate(
        self,
        messages: Sequence[Message],
        *,
        max_new_tokens: int = 512,
        temperature: float = 0.0,
        on_token: TokenCallback | None = None,
        cancel: threading.Event | None = None,
        selector: str | None = None,
        prefill: str = "",
        seed: int | None = None,
    ) -> Generation:
        """Generate one reply from the chat template; loads the model first if needed.

        Only the new tokens are decoded; the reply is ``prefill`` plus them.
        Raises ``GenerationCancelled`` when ``cancel`` is set (checked between
        tokens) and ``BackendError`` when loading or generating fails.
        """
        started = time.perf_counter()
        self.load()
        from batos_core.jit.backends import hf_runtime

        assert self._loaded is not None
        with self._generate_lock:
            check_cancel(cancel, "")
            if prefill and on_token is not None:
                on_token(prefill)  # the reply's first part, so a live view shows all of it
            try:
                text, tokens, capped = hf_runtime.generate(
                    self._loaded, messages, max_new_tokens, temperature, on_token, cancel, prefill, seed
                )
            except (RuntimeError, ValueError) as error:
                raise BackendError(f"generation failed: {error}") from error
        if cancel is not None and cancel.is_set():
            raise GenerationCancelled(text)
        return Generation(
            text, tokens, time.perf_counter() - started, self.model_id, self.name, stopped_at_cap=capped
        )
