"""Shared fixtures: a real FileStorage image under `tmp_path`, closed after the test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from batos_core.image import Image, Session, open_image


@pytest.fixture
def image_path(tmp_path: Path) -> Path:
    """Where the test's FileStorage image lives (not created yet)."""
    return tmp_path / "image.fs"


@pytest.fixture
def image(image_path: Path) -> Iterator[Image]:
    """A freshly bootstrapped FileStorage image; closed (lock released) at teardown."""
    img = open_image(image_path)
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
