"""One default JIT backend (`batos_core.settings.DEFAULT_BACKEND`) wherever none is named."""

from __future__ import annotations

from pathlib import Path

import pytest

from batos_cli.connect import Target
from batos_core.daemon_config import DaemonConfig
from batos_core.jit.backends import BackendConfig
from batos_core.settings import DEFAULT_BACKEND, NO_BACKEND, Settings, load_settings


def test_the_settings_the_daemon_config_and_the_backends_config_share_the_default() -> None:
    assert Settings().backend == DaemonConfig().backend == BackendConfig().backend == DEFAULT_BACKEND


def test_a_daemon_started_with_no_backend_named_anywhere_runs_the_default(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("BATOS_BACKEND", raising=False)
    assert DaemonConfig.from_argv(["--image", "memory://"]).backend == DEFAULT_BACKEND
    monkeypatch.setenv("BATOS_BACKEND", NO_BACKEND)
    assert DaemonConfig.from_argv(["--image", "memory://"]).backend == NO_BACKEND


def test_the_cli_starts_its_daemon_with_the_default_unless_told(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("BATOS_CONFIG", "/nonexistent/batos.toml")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    monkeypatch.delenv("BATOS_BACKEND", raising=False)
    config = Target(load_settings()).config()
    assert config.backend == DEFAULT_BACKEND
    assert DaemonConfig.from_argv(config.to_argv()).backend == DEFAULT_BACKEND
    monkeypatch.setenv("BATOS_BACKEND", "openai")
    assert Target(load_settings()).config().backend == "openai"
