"""``--backend auto``: which local engine serves a model on this machine.

* CUDA (asked for, or ``auto`` with a GPU visible): ``transformers``, with
  bitsandbytes' 4-bit weights (a CUDA build of llama.cpp is not used);
* a GGUF (a catalog GGUF, a ``.gguf`` path, or a file that starts with the
  GGUF magic) on a CPU: ``llamacpp``, llama.cpp's own format and kernels;
* anything else (a hub snapshot, a hub id, a Transformers directory):
  ``transformers``.

When llama-cpp-python cannot be imported, a GGUF on a CPU falls back to
``transformers`` (which de-quantizes the GGUF once) and one log line says
why. The check imports ``llama_cpp`` (a fraction of a second, once per
daemon): a package that is present but broken (a missing shared library)
only shows itself that way.
"""

from __future__ import annotations

import functools
import logging
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from batos_core.jit.catalog import UnknownModel, default_entry, get_entry

log = logging.getLogger(__name__)

_NO_LLAMA_CPP = "llama-cpp-python cannot be imported"


@dataclass(frozen=True)
class EngineChoice:
    """The backend that serves ``model`` and why it was chosen."""

    backend: str
    model: str
    reason: str


def choose_engine(model: str | None, device: str = "auto") -> EngineChoice:
    """The backend ``auto`` means for ``model`` (None: the device's default) on ``device``.

    Never raises for an unknown or missing model: the chosen backend's load
    reports that on the first miss.
    """
    cuda = device.startswith("cuda") or (device == "auto" and cuda_visible())
    choice = plan_engine(model, cuda, llama_cpp_problem)
    if choice.reason.startswith(_NO_LLAMA_CPP):
        log.warning("%s: the transformers backend serves %s instead", choice.reason, choice.model)
    return choice


def plan_engine(model: str | None, cuda: bool, llama_cpp_check: Callable[[], str | None]) -> EngineChoice:
    """``choose_engine``'s rules, with the CUDA question answered and the way to
    ask whether llama-cpp-python works given (``batos model info`` only looks
    for the package: the CLI imports nothing heavy)."""
    name = model or default_entry("cuda" if cuda else "cpu").name
    if cuda:
        return EngineChoice("transformers", name, "CUDA runs on transformers")
    if not is_gguf(name):
        return EngineChoice("transformers", name, "not a GGUF")
    problem = llama_cpp_check()
    if problem is not None:
        return EngineChoice("transformers", name, f"{_NO_LLAMA_CPP} ({problem})")
    return EngineChoice("llamacpp", name, "a GGUF on the CPU")


@functools.cache
def engine_name(backend: str) -> str:
    """The engine behind a local backend, with versions from the package metadata
    (nothing imported; asked once, status replies repeat it):
    ``llama.cpp (llama-cpp-python 0.3.36)``, ``transformers 4.57.1 (torch 2.13.0)``."""
    if backend == "llamacpp":
        return f"llama.cpp (llama-cpp-python {_version('llama-cpp-python')})"
    if backend == "transformers":
        return f"transformers {_version('transformers')} (torch {_version('torch')})"
    return backend


def _version(package: str) -> str:
    from importlib import metadata  # 30-40 ms to import: only when asked

    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


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


def is_gguf(model: str) -> bool:
    """Whether ``model`` names a GGUF: a catalog GGUF, a ``.gguf`` path, or a file with its magic."""
    if model.endswith(".gguf"):
        return True
    path = Path(model).expanduser()
    if path.is_file():
        try:
            with path.open("rb") as stream:
                return stream.read(4) == b"GGUF"
        except OSError:
            return False
    try:
        return get_entry(model).filename is not None
    except UnknownModel:
        return False


def llama_cpp_installed() -> str | None:
    """Whether the llama_cpp package is there, without importing it (None: it is)."""
    import importlib.util

    try:
        found = importlib.util.find_spec("llama_cpp") is not None
    except (ImportError, ValueError):  # ValueError: sys.modules holds None for it
        found = False
    return None if found else "No module named 'llama_cpp'"


def llama_cpp_problem() -> str | None:
    """Why ``llama_cpp`` cannot be imported here, or None when it can."""
    try:
        import llama_cpp  # noqa: F401
    except (ImportError, OSError) as error:  # OSError: its shared library failed to load
        return " ".join(str(error).split()) or type(error).__name__
    return None
