"""`batos ui`: show the image's user interface (genesis display_yourself) in its own process.

The CLI never imports Kivy: it makes sure the daemon runs, then spawns
``python -m batos_core.gui`` (``batos_core/gui/launcher.py``), which reports
its own errors (with the offending line of the UI's source) on stderr.
"""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path
from typing import IO, Annotated

import typer

from batos_cli import connect, state
from batos_cli.env import current
from batos_cli.status import CliError, ExitStatus
from batos_core.gui.display import HOW_TO_VIEW, has_display
from batos_core.ui_contract import UI_SELECTOR, UI_TARGET

# The launcher's exit statuses (batos_core.gui.errors) as the CLI's.
_CHILD_STATUS = {1: ExitStatus.ERROR, 2: ExitStatus.USAGE, 3: ExitStatus.DAEMON_UNAVAILABLE}


def register(app: typer.Typer) -> None:
    app.command()(ui)


def ui(
    screenshot: Annotated[
        Path | None,
        typer.Option(
            "--screenshot", help="Render offscreen, save the first frame that shows state as PNG, exit."
        ),
    ] = None,
    fallback: Annotated[
        bool, typer.Option("--fallback", help="Show the hand-written inspector instead of the generated UI.")
    ] = False,
    target: Annotated[
        str, typer.Option("--target", help=f"The object whose {UI_SELECTOR} to show.")
    ] = UI_TARGET,
    report: Annotated[
        Path | None, typer.Option("--report", hidden=True, help="Write what the widgets show (JSON); exit.")
    ] = None,
) -> None:
    """Open the UI the model wrote for the image (genesis display_yourself), in its own window."""
    if screenshot is None and report is None and not has_display():
        raise CliError(HOW_TO_VIEW, ExitStatus.USAGE)
    launch_ui(target, screenshot=screenshot, fallback=fallback, report=report)


def launch_ui(
    target: str, *, screenshot: Path | None = None, fallback: bool = False, report: Path | None = None
) -> None:
    """Run the UI process for `target` (its own process; the CLI never imports Kivy)."""
    env = current()
    where = state.target()
    connect.ensure(where, env.notice)
    command = [
        sys.executable,
        "-m",
        "batos_core.gui",
        "--connection-file",
        str(where.config().connection_path()),
        "--target",
        target,
    ]
    if fallback:
        command.append("--fallback")
    if screenshot is not None:
        command += ["--screenshot", str(screenshot)]
    if report is not None:
        command += ["--report", str(report)]
    code = _run(command, env.stderr)
    if code != 0:
        # The UI process already said what went wrong and what to do; only the
        # status is left to pass on (SystemExit: click swallows typer.Exit's code
        # when main() runs it with standalone_mode=False).
        raise SystemExit(int(_CHILD_STATUS.get(code, ExitStatus.ERROR)))
    if screenshot is not None:
        env.out.print(f"saved {screenshot}", markup=False, highlight=False)


def _run(command: list[str], stderr: IO[str]) -> int:
    """Run the UI process; its stderr goes to ours (relayed when ours is not a real file)."""
    try:
        fd = stderr.fileno()
    except (AttributeError, OSError, io.UnsupportedOperation):
        fd = None
    if fd is not None:
        return subprocess.run(command, stdin=subprocess.DEVNULL, stderr=fd, check=False).returncode
    done = subprocess.run(command, stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False)
    stderr.write(done.stderr)
    return done.returncode
