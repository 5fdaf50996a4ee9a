"""`batos ui`: the CLI side (in-process main(), the UI in its own process)."""

from __future__ import annotations

import io
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from batos_cli import env as cli_env
from batos_cli.main import main

from .conftest import REPO, RunningDaemon, offscreen_env
from .ui_sources import BUILD_RAISES_UI, GOOD_UI


@pytest.fixture
def terminal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[cli_env.Environment]:
    """An offscreen environment for the spawned UI, and captured CLI output."""
    for name, value in offscreen_env(tmp_path).items():
        monkeypatch.setenv(name, value)
    environment = cli_env.Environment(stdout=io.StringIO(), stderr=io.StringIO(), width=200)
    cli_env.use(environment)
    yield environment
    cli_env.use(cli_env.Environment())


def _batos(daemon: RunningDaemon, *args: str) -> int:
    return main(["--image", str(daemon.image), "--runtime-dir", str(daemon.runtime_dir), "ui", *args])


@pytest.mark.gui
def test_batos_ui_saves_a_screenshot(
    daemon: RunningDaemon, terminal: cli_env.Environment, tmp_path: Path
) -> None:
    daemon.install_ui(GOOD_UI)
    shot = tmp_path / "ui.png"
    assert _batos(daemon, "--screenshot", str(shot)) == 0, terminal.stderr.getvalue()  # type: ignore[attr-defined]
    assert shot.stat().st_size > 1000
    assert f"saved {shot}" in terminal.stdout.getvalue()  # type: ignore[attr-defined]


@pytest.mark.gui
def test_batos_ui_relays_the_error_of_a_broken_ui(
    daemon: RunningDaemon, terminal: cli_env.Environment, tmp_path: Path
) -> None:
    daemon.install_ui(BUILD_RAISES_UI)
    assert _batos(daemon, "--screenshot", str(tmp_path / "ui.png")) == 1
    err = terminal.stderr.getvalue()  # type: ignore[attr-defined]
    assert "KeyError: 'entropy'" in err
    assert "line 9" in err
    assert "batos ui --fallback" in err


def test_batos_ui_without_a_display_says_how_to_view_it(
    daemon: RunningDaemon, terminal: cli_env.Environment, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "SDL_VIDEODRIVER"):
        monkeypatch.delenv(name, raising=False)
    assert _batos(daemon) == 2
    err = terminal.stderr.getvalue()  # type: ignore[attr-defined]
    assert "--screenshot ui.png" in err
    assert "xvfb-run batos ui" in err


def test_the_cli_never_imports_kivy() -> None:
    code = "import sys, batos_cli.app, batos_cli.commands.ui; sys.exit('kivy' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], cwd=REPO, check=False).returncode == 0
