"""`batos image check | recover`: look at an image file, and repair a damaged one.

Both run ``python -m batos_core.image.tool`` in a child process (ZODB stays out
of the CLI) and report its one line; `batos_cli.status` maps its status word
to the exit status.
"""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from batos_cli import connect, state
from batos_cli.env import current
from batos_cli.status import CliError, ExitStatus, image_tool_status
from batos_core.daemon.config import DaemonConfig

app = typer.Typer(help="Check an image file, or recover a damaged one.", no_args_is_help=True)

ImageArgument = Annotated[
    str | None,
    typer.Argument(help="Image path (default: --image, BATOS_IMAGE or the data dir's).", show_default=False),
]


@app.command()
def check(image: ImageArgument = None) -> None:
    """Read the whole image and say OK or what is damaged (exit 10). Changes nothing."""
    _run("check", image)


@app.command()
def recover(image: ImageArgument = None) -> None:
    """Recover a damaged image with ZODB's fsrecover; the original is kept as IMAGE.damaged-<time>.
    Refused while a daemon serves the image (exit 11)."""
    config = _config(image)
    info = connect.running(config)
    if info is not None:
        raise CliError(
            f"a daemon (pid {info.pid}) serves {config.image_uri}: stop it first",
            ExitStatus.IMAGE_IN_USE,
            hint="batos daemon stop",
        )
    _run("recover", image)


def _config(image: str | None) -> DaemonConfig:
    config = state.target().config()
    if image:
        config.image = image
    return config


def _run(action: str, image: str | None) -> None:
    import subprocess  # only here: ~8 ms of every other command's start

    env = current()
    config = _config(image)
    done = subprocess.run(
        [sys.executable, "-m", "batos_core.image.tool", action, config.image_uri],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )
    try:
        report = json.loads(done.stdout.strip().splitlines()[-1])
        status, message = str(report["status"]), str(report["message"])
    except (IndexError, ValueError, KeyError, TypeError):
        raise CliError(f"the image tool failed: {done.stderr.strip() or done.stdout.strip()}") from None
    exit_status = image_tool_status(status)
    if exit_status is not ExitStatus.OK:
        raise CliError(message, exit_status)
    env.out.print(message, markup=False)
