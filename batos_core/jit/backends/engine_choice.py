"""``--backend auto`` on this machine: the rules of ``models.engine_plan``, with the
machine asked whether CUDA is visible and whether ``llama_cpp`` imports.

When llama-cpp-python cannot be imported, a GGUF on a CPU falls back to
``transformers`` (which de-quantizes the GGUF once) and one log line says
why. The check imports ``llama_cpp`` (a fraction of a second, once per
daemon): a package that is present but broken (a missing shared library)
only shows itself that way.
"""

from __future__ import annotations

import logging
import os
import sys

from batos_core.models.engine_plan import NO_LLAMA_CPP, EngineChoice, plan_engine

log = logging.getLogger(__name__)


def choose_engine(model: str | None, device: str = "auto") -> EngineChoice:
    """The backend ``auto`` means for ``model`` (None: the device's default) on ``device``.

    Never raises for an unknown or missing model: the chosen backend's load
    reports that on the first miss.
    """
    cuda = device.startswith("cuda") or (device == "auto" and cuda_visible())
    choice = plan_engine(model, cuda, llama_cpp_problem)
    if choice.reason.startswith(NO_LLAMA_CPP):
        log.warning("%s: the transformers backend serves %s instead", choice.reason, choice.model)
    return choice


def cuda_visible() -> bool:
    """Whether torch sees a GPU. On Linux without NVIDIA's device files: no,
    without importing torch (which takes seconds)."""
    if sys.platform == "linux" and not os.path.exists("/dev/nvidiactl"):
        return False
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def llama_cpp_problem() -> str | None:
    """Why ``llama_cpp`` cannot be imported here, or None when it can."""
    try:
        import llama_cpp  # noqa: F401
    except (ImportError, OSError) as error:  # OSError: its shared library failed to load
        return " ".join(str(error).split()) or type(error).__name__
    return None
