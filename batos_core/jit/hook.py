"""Building a daemon's JIT compiler from what its configuration names: backend, model, review, candidates.

The daemon's composition root (`batos_core.daemon.lifecycle`) reads its
configuration and passes the values in; the JIT knows nothing of the daemon.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from batos_core.jit.backends import BackendConfig, make_backend
from batos_core.jit.backends.base import BackendError
from batos_core.jit.pipeline import JitCompiler, JitSettings

log = logging.getLogger(__name__)


def backend_config(name: str, model: str = "") -> BackendConfig:
    """The backend `name` with `model` (as a daemon's ``--backend`` and ``--model`` say).

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
    if name in ("auto", "llamacpp", "transformers"):
        return BackendConfig(backend=name, model=model or None, n_threads=_threads())
    if name == "openai":
        return BackendConfig(
            backend="openai",
            model=model or None,
            base_url=os.environ.get("BATOS_OPENAI_BASE_URL"),
            api_key_env="BATOS_OPENAI_API_KEY",
        )
    if name == "replay":
        return BackendConfig(backend="replay", log=model or None)
    if name == "scripted":
        if not model:
            raise BackendError("the scripted backend needs --model FILE.json (a list of replies)")
        return _scripted_config(Path(model))
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


def make_compiler(
    backend_name: str, model: str = "", *, review: bool = False, candidates: int = 0
) -> JitCompiler:
    """The JIT compiler for `backend_name` and `model` (built, not loaded: the
    model loads on the first miss); `review`: generated methods wait for
    approval; `candidates`: methods written per miss (0: the default).

    Raises BackendError for an unknown backend or a bad backend setting.
    """
    backend = make_backend(backend_config(backend_name, model))
    settings = JitSettings(review=review)
    if candidates:
        settings.candidates = candidates
    compiler = JitCompiler(backend, settings)
    log.info("JIT backend %s, model %s (loaded on the first miss)", backend.name, backend.model_id)
    return compiler
