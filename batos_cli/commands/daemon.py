"""`batos daemon start | status | stop | logs`."""

from __future__ import annotations

import time
from typing import Annotated

import typer

from batos_cli import connect, render, state
from batos_cli.env import current
from batos_cli.status import CliError, ExitStatus
from batos_core.places import check_instance

app = typer.Typer(help="Start, stop and look at the UVM daemon of an image.", no_args_is_help=True)


@app.command()
def start(
    foreground: Annotated[bool, typer.Option("--foreground", "-f", help="Run in this terminal.")] = False,
    tcp: Annotated[str | None, typer.Option(help="Also opt in to TCP: HOST:PORT (same signing).")] = None,
    backend: Annotated[
        str | None,
        typer.Option(
            help="JIT backend: auto (default: llamacpp for a GGUF on a CPU, else transformers), "
            "llamacpp, transformers, openai, replay or none."
        ),
    ] = None,
    model: Annotated[
        str | None, typer.Option(help="Model name from `batos model list`, a directory or a .gguf.")
    ] = None,
    review: Annotated[bool, typer.Option("--review", help="Generated methods wait for approval.")] = False,
    autotelic: Annotated[
        bool, typer.Option("--autotelic", help="Self-improve when idle (off by default).")
    ] = False,
    workers: Annotated[int | None, typer.Option(min=1, max=64, help="Worker threads.")] = None,
    candidates: Annotated[
        int | None,
        typer.Option(min=1, max=16, help="Methods written per miss; one is chosen by behaviour (default 4)."),
    ] = None,
    wedge_timeout: Annotated[
        float | None,
        typer.Option(
            min=0,
            metavar="S",
            help="Restart the daemon when its event loop stalls this long (default 10; 0: no supervisor).",
        ),
    ] = None,
    instance: Annotated[
        str | None,
        typer.Option(
            help="On a shared world (zeo://, postgresql://): this daemon's name on this machine "
            "(default: the next free one; BATOS_INSTANCE)."
        ),
    ] = None,
) -> None:
    """Start the daemon in the background (prints where its log is). On a shared world, a
    daemon already running means: start another one beside it."""
    env = current()
    target = state.target()
    settings = target.settings
    if tcp:
        settings.tcp = tcp
    if backend:
        settings.backend = backend
    if model:
        settings.model = model
    if review:
        settings.review = True
    if autotelic:
        settings.autotelic = True
    if workers:
        settings.workers = workers
    if wedge_timeout is not None:
        settings.wedge_timeout = wedge_timeout
    if instance:
        try:
            check_instance(instance)
        except ValueError as exc:
            raise CliError(str(exc), ExitStatus.USAGE) from None
        settings.instance = instance
    config = target.config()
    if candidates:
        config.candidates = candidates
    info = connect.running(config)
    if info is not None and config.shared_world and not config.instance:
        config.instance = connect.free_instance(config)  # another daemon of the shared world
    elif info is not None:
        env.out.print(f"the daemon is already running for {config.image_uri} (pid {info.pid})")
        return
    if foreground:
        connect.start(config, foreground=True)
    info = connect.start(config)
    env.out.print(
        f"started the daemon (pid {info.pid}) for {config.image_uri}"
        + (f" as instance {config.instance}" if config.instance else "")
        + "\n"
        f"  endpoint {info.endpoint}\n  log {config.log_path()}",
        markup=False,
    )


@app.command()
def status(
    json_out: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Whether the daemon runs, and what it is doing."""
    from batos_core.protocol.builders import status_request
    from batos_core.protocol.client import Client, raise_for_error

    env = current()
    config = state.target().config()
    info = connect.running(config)
    if info is None:
        if json_out:
            render.print_json(env, {"running": False, "image": config.image_uri})
        else:
            env.out.print(f"no daemon is running for {config.image_uri}", markup=False)
        raise typer.Exit(ExitStatus.DAEMON_UNAVAILABLE)
    # Three 5 s attempts: a daemon wedged in C code is restarted by its supervisor
    # after the wedge timeout (10 s), and the restarted one answers the re-sent request.
    with Client.from_connection_info(info, timeout=5.0, retries=2) as client:
        reply = client.request(status_request())
    raise_for_error(reply)
    if json_out:
        render.print_json(env, {"running": True, **reply})
    else:
        render.print_status(env, reply)


@app.command()
def stop() -> None:
    """Drain (finish in-flight requests, commit) and stop the daemon."""
    env = current()
    config = state.target().config()
    pid = connect.stop(config)
    if pid is None:
        env.out.print(f"no daemon is running for {config.image_uri}", markup=False)
    else:
        env.out.print(f"stopped the daemon (pid {pid})", markup=False)


@app.command()
def logs(
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing new lines.")] = False,
    lines: Annotated[int, typer.Option("--lines", "-n", min=0, help="How many last lines.")] = 40,
) -> None:
    """Print the daemon's log."""
    env = current()
    path = state.target().config().log_path()
    if not path.exists():
        raise CliError(f"no log yet at {path}", ExitStatus.NOT_FOUND)
    with path.open(errors="replace") as fh:
        tail = fh.readlines()[-lines:] if lines else []
        env.stdout.write("".join(tail))
        env.stdout.flush()
        while follow:
            line = fh.readline()
            if line:
                env.stdout.write(line)
                env.stdout.flush()
            else:
                time.sleep(0.2)
