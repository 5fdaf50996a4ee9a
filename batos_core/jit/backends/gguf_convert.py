"""Convert a GGUF once into a cached safetensors directory.

Transformers reads GGUF by de-quantizing every tensor, which takes tens of
seconds even for a small model. Doing it once and saving the result as bf16
safetensors (with the tokenizer and chat template) makes every later load a
plain ``from_pretrained`` of a directory. The cache is keyed by the GGUF's
SHA-256, so a changed file is converted again, and the directory is renamed
into place only when complete.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from pathlib import Path
from typing import Any

from batos_core.models.cache import converted_dir, file_sha256

log = logging.getLogger(__name__)

_COMPLETE = "config.json"


def gguf_sha256(gguf: Path) -> str:
    """The file's checksum, from the pull's record when it matches the size."""
    record = gguf.with_name(gguf.name + ".sha256")
    try:
        recorded_sha, recorded_size = record.read_text(encoding="utf-8").split()[:2]
        if int(recorded_size) == gguf.stat().st_size:
            return recorded_sha
    except (OSError, ValueError):
        pass  # no usable record: hash the file
    return file_sha256(gguf)


def converted_path(gguf: Path) -> Path | None:
    """The finished conversion of ``gguf`` if there is one."""
    target = converted_dir(gguf_sha256(gguf))
    return target if (target / _COMPLETE).is_file() else None


def ensure_converted(gguf: Path) -> Path:
    """Return the safetensors directory for ``gguf``, converting it first if needed.

    Raises ``FileNotFoundError`` if ``gguf`` is missing; errors of
    transformers (an architecture it cannot read from GGUF, a corrupt file)
    propagate; the partial directory is removed either way.
    """
    if not gguf.is_file():
        raise FileNotFoundError(gguf)
    target = converted_dir(gguf_sha256(gguf))
    if (target / _COMPLETE).is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = target.with_name(f"{target.name}.{os.getpid()}.part")
    shutil.rmtree(scratch, ignore_errors=True)
    started = time.perf_counter()
    try:
        _convert(gguf, scratch)
        try:
            os.rename(scratch, target)
        except OSError:
            if not (target / _COMPLETE).is_file():
                raise
            # Another process finished the same conversion first; keep theirs.
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    log.info("converted %s to %s in %.1f s", gguf.name, target, time.perf_counter() - started)
    return target


def _convert(gguf: Path, into: Path) -> None:
    import torch
    import transformers

    from batos_core.jit.backends.hf_runtime import dtype_kwarg

    transformers.utils.logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    kwargs: dict[str, Any] = {"gguf_file": gguf.name, dtype_kwarg(): torch.bfloat16}
    gguf_config = getattr(transformers, "GgufConfig", None)
    if gguf_config is not None:
        # Newer transformers keep GGUF blocks packed, which cannot be saved;
        # older ones always de-quantize and have no such option.
        kwargs["quantization_config"] = gguf_config(dequantize=True)
    tokenizer = transformers.AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = transformers.AutoModelForCausalLM.from_pretrained(gguf.parent, **kwargs)
    model.save_pretrained(into)
    tokenizer.save_pretrained(into)
