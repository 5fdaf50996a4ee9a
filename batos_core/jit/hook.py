"""Building the daemon's doesNotUnderstand: hook from its configuration."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from batos_core.daemon_config import DaemonConfig
from batos_core.jit.backends import BackendConfig, make_backend
from batos_core.jit.backends.base import BackendError
from batos_core.jit.pipeline import JitCompiler, JitSettings

log = logging.getLogger(__name__)


def backend_config(config: DaemonConfig) -> BackendConfig:
    """The backend a daemon configuration names.

    * ``auto`` (the default): ``llamacpp`` for a GGUF on a CPU, else
      ``transformers`` (``backends.engine_choice``);
    * ``llamacpp``: ``model`` is a catalog GGUF or a .gguf path, its threads
      ``BATOS_JIT_THREADS`` (default: the physical cores);
    * ``transformers``: ``model`` is a catalog name, hub id, directory or .gguf
      (default: the catalog default for this machine);
    * ``openai``: ``model`` is the server's model name, the base URL comes from
      ``BATOS_OPENAI_BASE_URL`` (key from ``BATOS_OPENAI_API_KEY``);
    * ``replay``: ``model`` is a JSONL change-log export;
    * ``scripted``: ``model`` is a JSON file holding a list of replies (tests).
    """
    name = config.backend
    if name in ("auto", "llamacpp", "transformers"):
        return BackendConfig(backend=name, model=config.model or None, n_threads=_threads())
    if name == "openai":
        return BackendConfig(
            backend="openai",
            model=config.model or None,
            base_url=os.environ.get("BATOS_OPENAI_BASE_URL"),
            api_key_env="BATOS_OPENAI_API_KEY",
        )
    if name == "replay":
        return BackendConfig(backend="replay", log=config.model or None)
    if name == "scripted":
        if not config.model:
            raise BackendError("the scripted backend needs --model FILE.json (a list of replies)")
        return _scripted_config(Path(config.model))
    known = "auto, llamacpp, transformers, openai, replay, scripted, none"
    raise BackendError(f"unknown JIT backend {name!r} (known: {known})")


def _threads() -> int | None:
    """``BATOS_JIT_THREADS``: llama.cpp's threads (default: the physical cores)."""
    value = os.environ.get("BATOS_JIT_THREADS", "").strip()
    if not value:
        return None
    if not value.isdigit() or int(value) < 1:
        raise BackendError(f"BATOS_JIT_THREADS must be a whole number >= 1, not {value!r}")
    return int(value)


def _scripted_config(path: Path) -> BackendConfig:
    """A script file: a JSON list of replies, or ``{"replies": [...],
    "seconds_per_piece": s}`` for a model that takes its time."""
    script: Any = json.loads(path.read_text())
    pace: Any = 0.0
    if isinstance(script, dict):
        script, pace = script.get("replies"), script.get("seconds_per_piece", 0.0)
    if not isinstance(script, list) or not all(isinstance(o, str) for o in script):
        raise BackendError(f"{path}: expected a JSON list of strings (or an object with one as replies)")
    if not isinstance(pace, (int, float)) or pace < 0:
        raise BackendError(f"{path}: seconds_per_piece must be a number >= 0")
    return BackendConfig(backend="scripted", outputs=tuple(script), seconds_per_piece=float(pace))


def make_compiler(config: DaemonConfig) -> JitCompiler:
    """The JIT compiler for the configured backend (built, not loaded): its
    ``on_miss`` is the daemon's hook, its ``backend`` what status reports."""
    backend = make_backend(backend_config(config))
    settings = JitSettings(review=config.review)
    if config.candidates:
        settings.candidates = config.candidates
    compiler = JitCompiler(backend, settings)
    log.info("JIT backend %s, model %s (loaded on the first miss)", backend.name, backend.model_id)
    return compiler


def make_miss_hook(config: DaemonConfig) -> Any:
    """The JitCompiler's `on_miss`, bound to the configured backend (built, not loaded)."""
    return make_compiler(config).on_miss
