"""Fixtures for the JIT's end-to-end tests (the daemon fixtures come from tests/integration)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from jit_helpers import BatosCli, ScriptedDaemons


@pytest.fixture
def scripted(daemon_factory: Any, batos_dirs: Any) -> ScriptedDaemons:
    """``scripted(replies, extra_args=...)`` starts a daemon whose model answers with `replies`."""
    return ScriptedDaemons(daemon_factory, batos_dirs)


@pytest.fixture
def cli(batos_dirs: Any) -> Iterator[BatosCli]:
    """``cli(*args)`` runs ``batos`` on this test's directories; daemons it started for
    other images are stopped at teardown (the fixture daemons stop themselves)."""
    runner = BatosCli(batos_dirs)
    yield runner
    runner.close()
