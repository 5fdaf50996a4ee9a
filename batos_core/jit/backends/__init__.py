"""Model backends of the doesNotUnderstand: JIT, behind one ``Backend`` interface.

``make_backend(config)`` builds one from the ``[jit]`` configuration (a
``BackendConfig`` or a plain mapping, e.g. a table of ``batos.toml``).
Nothing here loads a model: backends load lazily. Only ``auto`` imports
anything heavy, to choose: ``llama_cpp`` (can it serve?) and, on a machine
with NVIDIA devices, torch (does it see the GPU?).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

from batos_core.jit.backends.base import (
    Backend,
    BackendError,
    Generation,
    GenerationCancelled,
    Message,
    TokenCallback,
)
from batos_core.jit.backends.engine_choice import cuda_visible
from batos_core.models.catalog import Device, default_entry
from batos_core.settings import DEFAULT_BACKEND

__all__ = [
    "Backend",
    "BackendConfig",
    "BackendError",
    "Generation",
    "GenerationCancelled",
    "Message",
    "TokenCallback",
    "default_model",
    "make_backend",
]

BACKENDS = ("auto", "llamacpp", "transformers", "openai", "replay", "scripted")


@dataclass(frozen=True)
class BackendConfig:
    """Which backend to build and its settings.

    * ``auto``: ``llamacpp`` for a GGUF on a CPU, else ``transformers``
      (``engine_choice.choose_engine``), with the settings below.
    * ``llamacpp``: ``model`` (catalog name or ``.gguf`` path; default: the
      CPU default), ``n_threads`` (default: the physical cores).
    * ``transformers``: ``model`` (catalog name, hub id, directory or
      ``.gguf``; default: the catalog default for the device), ``device``
      (auto/cpu/cuda), ``dtype`` (auto/bfloat16/float32; auto picks bf16
      only where it is fast), ``quantize_4bit`` (CUDA only).
    * ``openai``: ``base_url``, ``model``, ``api_key`` or the name of the
      environment variable holding it in ``api_key_env``.
    * ``replay``: ``log`` (a JSONL change log).
    * ``scripted``: ``outputs`` (the replies, in order), ``seconds_per_piece``
      (its pace; 0: instant).
    """

    backend: str = DEFAULT_BACKEND
    model: str | None = None
    device: str = "auto"
    n_threads: int | None = None
    dtype: str = "auto"
    quantize_4bit: bool = True
    base_url: str | None = None
    api_key: str | None = None
    api_key_env: str | None = None
    timeout: float = 120.0
    log: str | None = None
    outputs: tuple[str, ...] = field(default_factory=tuple)
    seconds_per_piece: float = 0.0

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> BackendConfig:
        """Build from a mapping; raises ``BackendError`` naming unknown keys."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise BackendError(f"unknown backend setting(s): {', '.join(unknown)}")
        settings = dict(values)
        if "outputs" in settings:
            settings["outputs"] = tuple(settings["outputs"])
        return cls(**settings)


def default_model(device: str = "auto") -> str:
    """The catalog default for ``device``; ``auto`` asks torch only if it is installed."""
    resolved: Device
    if device == "cuda":
        resolved = "cuda"
    elif device == "cpu":
        resolved = "cpu"
    else:
        resolved = "cuda" if cuda_visible() else "cpu"
    return default_entry(resolved).name


def make_backend(config: BackendConfig | Mapping[str, Any]) -> Backend:
    """Build (not load) the backend ``config`` describes.

    ``auto`` picks ``llamacpp`` or ``transformers`` (``engine_choice``).
    Raises ``BackendError`` for an unknown backend or a missing required
    setting; a replay log that cannot be read raises ``OSError``.
    """
    if not isinstance(config, BackendConfig):
        config = BackendConfig.from_mapping(config)
    if config.backend == "auto":
        from batos_core.jit.backends.engine_choice import choose_engine

        choice = choose_engine(config.model, config.device)
        config = replace(config, backend=choice.backend, model=choice.model)
    if config.backend == "llamacpp":
        from batos_core.jit.backends.llamacpp_backend import LlamaCppBackend

        return LlamaCppBackend(config.model or default_model("cpu"), n_threads=config.n_threads)
    if config.backend == "transformers":
        from batos_core.jit.backends.transformers_backend import TransformersBackend

        model = config.model or default_model(config.device)
        return TransformersBackend(
            model, device=config.device, dtype=config.dtype, quantize_4bit=config.quantize_4bit
        )
    if config.backend == "openai":
        from batos_core.jit.backends.openai_backend import OpenAIBackend

        if not config.base_url or not config.model:
            raise BackendError("the openai backend needs base_url and model")
        key = config.api_key or (os.environ.get(config.api_key_env) if config.api_key_env else None)
        return OpenAIBackend(config.base_url, config.model, api_key=key, timeout=config.timeout)
    if config.backend == "replay":
        from batos_core.jit.backends.replay import ReplayBackend

        if not config.log:
            raise BackendError("the replay backend needs log (a JSONL change log)")
        return ReplayBackend(config.log)
    if config.backend == "scripted":
        from batos_core.jit.backends.scripted import ScriptedBackend

        return ScriptedBackend(config.outputs, seconds_per_piece=config.seconds_per_piece)
    raise BackendError(f"unknown backend {config.backend!r} (known: {', '.join(BACKENDS)})")
