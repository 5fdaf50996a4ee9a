"""Fixtures of the backend tests: the tiny model and an empty model cache."""

from __future__ import annotations

from pathlib import Path

import pytest

from .tiny_models import TinyModel, build_tiny_model


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> TinyModel:
    """A tiny random Llama saved as a Transformers directory and as a GGUF."""
    return build_tiny_model(tmp_path_factory.mktemp("tiny-llama"))


@pytest.fixture
def model_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty model cache directory, installed as ``BATOS_MODEL_DIR``."""
    cache = tmp_path / "models"
    monkeypatch.setenv("BATOS_MODEL_DIR", str(cache))
    return cache
