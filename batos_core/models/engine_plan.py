"""Which local engine would serve a model, decided from files and package metadata alone.

The rules of ``--backend auto`` (the JIT's ``backends.engine_choice`` asks
the machine the two questions these rules take as answers: is CUDA visible,
can ``llama_cpp`` be imported):

* CUDA: ``transformers``, with bitsandbytes' 4-bit weights (a CUDA build of
  llama.cpp is not used);
* a GGUF (a catalog GGUF, a ``.gguf`` path, or a file that starts with the
  GGUF magic) on a CPU: ``llamacpp``, llama.cpp's own format and kernels,
  unless llama-cpp-python cannot be imported (then ``transformers``, which
  de-quantizes the GGUF once);
* anything else (a hub snapshot, a hub id, a Transformers directory):
  ``transformers``.

Nothing here imports torch or llama_cpp: ``batos model info`` uses it with
``llama_cpp_installed``, which only looks for the package.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from batos_core.models.catalog import UnknownModel, default_entry, get_entry

#: The start of an EngineChoice's reason when llama-cpp-python cannot be imported.
NO_LLAMA_CPP = "llama-cpp-python cannot be imported"


@dataclass(frozen=True)
class EngineChoice:
    """The backend that serves ``model`` and why it was chosen."""

    backend: str
    model: str
    reason: str


def plan_engine(model: str | None, cuda: bool, llama_cpp_check: Callable[[], str | None]) -> EngineChoice:
    """The backend ``auto`` means for ``model`` (None: the device's default), with the
    CUDA question answered and the way to ask whether llama-cpp-python works given."""
    name = model or default_entry("cuda" if cuda else "cpu").name
    if cuda:
        return EngineChoice("transformers", name, "CUDA runs on transformers")
    if not is_gguf(name):
        return EngineChoice("transformers", name, "not a GGUF")
    problem = llama_cpp_check()
    if problem is not None:
        return EngineChoice("transformers", name, f"{NO_LLAMA_CPP} ({problem})")
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
