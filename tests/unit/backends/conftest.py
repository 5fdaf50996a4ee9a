"""Fixtures of the backend tests: the tiny model."""

from __future__ import annotations

import pytest

from .tiny_models import TinyModel, build_tiny_model


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> TinyModel:
    """A tiny random Llama saved as a Transformers directory and as a GGUF."""
    return build_tiny_model(tmp_path_factory.mktemp("tiny-llama"))
