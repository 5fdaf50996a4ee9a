"""`batos image check | recover | pack | serve | stop | status`: look at an image
file, repair a damaged one, pack a world, and serve a file to several daemons.

`check`, `recover` and `pack` run ``python -m batos_core.image_tool`` in a
child process (ZODB stays out of the CLI) and report its one line;
`batos_cli.status` maps its status word to the exit status. `serve`, `stop`
and `status` start, stop and look at ZEO's own storage server for the image
(`batos_core.world.zeo_server`).
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Annotated

import typer

from batos_cli import connect, state
from batos_cli.env import current
from batos_cli.status import CliError, ExitStatus, image_tool_status
from batos_core.daemon_config import DaemonConfig

if TYPE_CHECKING:
    from pathlib import Path

app = typer.Typer(
    help="Check an image file, recover a damaged one, or serve it to several daemons (ZEO).",
    no_args_is_help=True,
)

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


@app.command()
def pack(
    image: Annotated[
        str | None,
        typer.Argument(
            help="Image path or URI, zeo:// or postgresql:// too (default: --image, BATOS_IMAGE "
            "or the data dir's).",
            show_default=False,
        ),
    ] = None,
    days: Annotated[float, typer.Option(min=0, help="Days of old object revisions to keep.")] = 0.0,
) -> None:
    """Pack the world (ZODB pack through its storage): drop old object revisions and
    unreachable objects; `batos history` keeps all it shows. A file needs its daemon
    stopped (exit 11); zeo:// and postgresql:// worlds pack while daemons serve."""
    config = _config(image)
    if not config.shared_world:
        info = connect.running(config)
        if info is not None:
            raise CliError(
                f"a daemon (pid {info.pid}) serves {config.image_uri}: stop it first",
                ExitStatus.IMAGE_IN_USE,
                hint="batos daemon stop",
            )
    target = config.image if config.shared_world else config.image_uri  # the URI with its password
    _run("pack", image, tool_args=[target, "--days", f"{days:g}"])


def _config(image: str | None) -> DaemonConfig:
    config = state.target().config()
    if image:
        config.image = image
    return config


def _run(action: str, image: str | None, tool_args: list[str] | None = None) -> None:
    import subprocess  # only here: ~8 ms of every other command's start

    env = current()
    config = _config(image)
    done = subprocess.run(
        [sys.executable, "-m", "batos_core.image_tool", action, *(tool_args or [config.image_uri])],
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


@app.command()
def serve(
    image: ImageArgument = None,
    listen: Annotated[
        str, typer.Option("--listen", metavar="HOST:PORT", help="Address of the ZEO server.")
    ] = "127.0.0.1:8100",
) -> None:
    """Serve the image with a ZEO server in the background (log beside the image), so that
    daemons on any machine share it: batos --image zeo://HOST:PORT daemon start."""
    from batos_core import zeo_record
    from batos_core.world import zeo_server
    from batos_core.world.errors import AddressInUse, AlreadyServed, StorageServerError

    env = current()
    path = _image_file(image)
    try:
        host, port = zeo_server.parse_listen(listen)
    except ValueError as exc:
        raise CliError(str(exc), ExitStatus.USAGE) from None
    config = _config(str(path))
    info = connect.running(config)
    if info is not None:
        raise CliError(
            f"a daemon (pid {info.pid}) has {path} open: stop it first",
            ExitStatus.IMAGE_IN_USE,
            hint="batos daemon stop",
        )
    try:
        record = zeo_server.serve(path, host, port)
    except AlreadyServed as exc:
        raise CliError(str(exc), ExitStatus.IMAGE_IN_USE) from None
    except AddressInUse as exc:
        raise CliError(str(exc), ExitStatus.USAGE) from None
    except StorageServerError as exc:
        raise CliError(str(exc), hint=f"see its log: {zeo_record.log_path(path)}") from None
    env.out.print(
        f"serving {path} at {record.uri} (pid {record.pid})\n"
        f"  log {zeo_record.log_path(path)}\n  daemons: batos --image {record.uri} daemon start",
        markup=False,
    )


@app.command()
def stop(image: ImageArgument = None) -> None:
    """Stop the image's ZEO server started by `batos image serve`."""
    from batos_core.world import zeo_server
    from batos_core.world.errors import NotServed

    path = _image_file(image)
    try:
        record = zeo_server.stop(path)
    except NotServed as exc:
        raise CliError(str(exc), ExitStatus.DAEMON_UNAVAILABLE) from None
    current().out.print(f"stopped the ZEO server (pid {record.pid}) of {path}", markup=False)


@app.command()
def status(image: ImageArgument = None) -> None:
    """Say whether the image is served by a ZEO server, where, and whether it answers (exit 3 if not)."""
    from batos_core import zeo_record

    path = _image_file(image)
    record = zeo_record.running(path)
    if record is None:
        raise CliError(
            f"{path} is not served (start: batos image serve {path})", ExitStatus.DAEMON_UNAVAILABLE
        )
    if not zeo_record.reachable(record.host, record.port):
        raise CliError(
            f"the ZEO server (pid {record.pid}) of {path} does not answer on {record.host}:{record.port}",
            ExitStatus.DAEMON_UNAVAILABLE,
            hint=f"see its log: {zeo_record.log_path(path)}",
        )
    current().out.print(
        f"{path} is served at {record.uri} (pid {record.pid}); log {zeo_record.log_path(path)}", markup=False
    )


def _image_file(image: str | None) -> Path:
    """The image as a FileStorage path: only a file can be served."""
    from pathlib import Path

    uri = _config(image).image_uri
    if "://" in uri:
        raise CliError(f"only an image file can be served, not {uri}", ExitStatus.USAGE)
    return Path(uri)
