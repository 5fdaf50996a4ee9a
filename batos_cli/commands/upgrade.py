"""`batos upgrade` (Ship of Theseus: a new daemon process, same image) and `batos incarnations`."""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, Annotated, Any

import typer

from batos_cli import connect, render, state
from batos_cli.env import current
from batos_cli.status import CliError, ExitStatus

if TYPE_CHECKING:
    from batos_core.environment.verify import VerifyReport
    from batos_core.protocol.connection import ConnectionInfo

#: How long the old daemon may take to start its successor in standby (imports).
STANDBY_ALLOWANCE_S = 180.0


def register(app: typer.Typer) -> None:
    app.command()(upgrade)
    app.command()(incarnations)


def upgrade(
    with_: Annotated[
        list[str] | None,
        typer.Option("--with", help="Add a requirement (pip syntax) to the new environment; repeatable."),
    ] = None,
    python: Annotated[
        str | None, typer.Option("--python", help="Interpreter of the new environment.", show_default=False)
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Build and verify the new environment; change nothing.")
    ] = False,
    timeout: Annotated[
        float,
        typer.Option("--timeout", min=1.0, help="Seconds the new daemon may take to serve, else rollback."),
    ] = 60.0,
    grace: Annotated[
        float,
        typer.Option(
            "--grace",
            min=0.0,
            max=86400.0,
            help="Seconds methods being generated may take to finish (the old daemon serves "
            "meanwhile) before the hand-over stops them.",
        ),
    ] = 600.0,
    json_out: Annotated[bool, typer.Option("--json", help="Print the outcome as JSON.")] = False,
) -> None:
    """Replace the daemon by a fresh process, in a new environment if asked, keeping the
    image, endpoint and key; clients lose nothing. If the new daemon fails, the old one
    resumes (rollback) and the new environment is kept for inspection."""
    from batos_core.environment.envbuild import BuildError, build_environment, probe
    from batos_core.environment.verify import verify_environment
    from batos_core.places import data_dir

    env = current()
    config = state.target().config()
    info = connect.running(config)
    if info is None and not dry_run:
        raise CliError(
            f"no daemon is running for {config.image_uri}: nothing to upgrade",
            ExitStatus.DAEMON_UNAVAILABLE,
            hint="`batos daemon start` starts one in the current environment",
        )
    base_python = _daemon_python(info) if info is not None else sys.executable
    new_python, environment, requirements, added = "", "", [], []
    if with_ or python:
        try:
            built = build_environment(
                probe(base_python),
                data_dir() / "envs",
                python=python,
                requirements=with_ or [],
                progress=env.notice,
            )
        except BuildError as exc:
            raise CliError(f"could not build the new environment: {exc}", ExitStatus.ERROR) from None
        new_python, environment, requirements = built.python, str(built.path), built.requirements
        added = sorted(built.installed)
    checked = new_python or base_python
    env.notice(f"verifying {checked} against {config.image_uri}")
    report = verify_environment(checked, config.image, distributions=added)
    if not report.ok:
        kept = f"the new environment is kept for inspection: {environment}" if environment else ""
        raise CliError(_failed(report), ExitStatus.ERROR, hint=kept)
    if dry_run:
        _print(env, json_out, _dry_run_summary(report, environment, requirements), dry_run=True)
        return
    assert info is not None
    reply = _hand_over(info, new_python, environment, requirements, timeout, grace)
    if reply["outcome"] != "upgraded":
        raise CliError(
            f"upgrade rolled back: {reply['reason']}",
            ExitStatus.ERROR,
            hint=f"pid {reply['old_pid']} serves on"
            + (f"; the new environment is kept for inspection: {environment}" if environment else ""),
        )
    _print(env, json_out, {**reply, "environment": environment, "requirements": requirements})


def _daemon_python(info: ConnectionInfo) -> str:
    """The interpreter the running daemon uses (its current incarnation's record)."""
    from batos_core.protocol.builders import incarnations_request
    from batos_core.protocol.client import Client, raise_for_error

    with Client.from_connection_info(info, timeout=10.0, retries=1) as client:
        reply = client.request(incarnations_request(limit=1))
    raise_for_error(reply)
    entries = reply["entries"]
    return str(entries[0]["executable"]) if entries and entries[0]["executable"] else sys.executable


def _hand_over(
    info: ConnectionInfo, python: str, environment: str, requirements: list[str], timeout: float, grace: float
) -> dict[str, Any]:
    from batos_core.protocol.builders import upgrade_request
    from batos_core.protocol.client import Client, raise_for_error

    env = current()
    request = upgrade_request(
        python,
        environment=environment,
        requirements=requirements,
        ready_timeout_s=timeout,
        generation_grace_s=grace,
    )

    def on_event(event: dict[str, Any]) -> None:
        if event.get("kind") == "phase":
            env.notice(str((event.get("data") or {}).get("phase", "")))

    # The reply comes from whichever daemon holds the image afterwards: the
    # client re-sends the same id when the old one closes its socket.
    wait = STANDBY_ALLOWANCE_S + grace + timeout
    with Client.from_connection_info(info, timeout=wait, retries=1) as client:
        reply = client.request(request, on_event=on_event)
    raise_for_error(reply)
    return reply


def _failed(report: VerifyReport) -> str:
    shown = report.problems[:5]
    more = f" (and {len(report.problems) - 5} more)" if len(report.problems) > 5 else ""
    return f"the new environment failed verification ({report.python}): " + "; ".join(shown) + more


def _dry_run_summary(report: VerifyReport, environment: str, requirements: list[str]) -> dict[str, Any]:
    return {
        "dry_run": True,
        "python": report.python,
        "environment": environment,
        "requirements": requirements,
        "objects": report.objects,
        "methods": report.methods,
        "modules": report.modules,
        "verify_s": report.seconds,
    }


def _print(env: Any, json_out: bool, data: dict[str, Any], *, dry_run: bool = False) -> None:
    if json_out:
        render.print_json(env, data)
    elif dry_run:
        env.out.print(
            f"dry run: {data['python']} verified: {data['objects']} objects load, "
            f"{data['methods']} methods compile, {len(data['modules'])} modules import; nothing changed"
            + (f"\n  environment {data['environment']}" if data["environment"] else ""),
            markup=False,
        )
    else:
        env.out.print(
            f"upgraded: pid {data['old_pid']} -> {data['new_pid']}, incarnation {data['incarnation']}, "
            f"hand-over {data['handover_s']:.2f} s"
            + (f"\n  environment {data['environment']}" if data["environment"] else ""),
            markup=False,
        )


def incarnations(
    limit: Annotated[
        int, typer.Option("--limit", "-n", min=1, max=10_000, help="How many, newest first.")
    ] = 20,
    json_out: Annotated[bool, typer.Option("--json", help="Print the records as JSON.")] = False,
) -> None:
    """The processes that served this image: number, time, python, batos, packages, outcome."""
    from batos_core.protocol.builders import incarnations_request
    from batos_core.protocol.client import raise_for_error

    env = current()
    with connect.client(state.target(), env.notice) as client:
        reply = client.request(incarnations_request(limit=limit))
    raise_for_error(reply)
    if json_out:
        render.print_json(env, reply)
        return
    from rich.table import Table

    table = Table(title=f"incarnations (current: {reply['current']})", title_justify="left")
    for column in ("#", "started", "pid", "python", "batos", "via", "outcome", "packages"):
        table.add_column(column)
    entries = reply["entries"]
    for entry, older in zip(entries, [*entries[1:], None], strict=True):
        outcome = entry["outcome"] + "".join(f"\nrollback: {r['reason']}" for r in entry["rollbacks"])
        table.add_row(
            str(entry["number"]),
            time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(entry["started"])),
            str(entry["pid"]),
            entry["python"],
            entry["batos"],
            entry["via"],
            outcome,
            _package_changes(entry, older),
        )
    env.out.print(table)


def _package_changes(entry: dict[str, Any], older: dict[str, Any] | None) -> str:
    """Package versions that differ from the previous incarnation (all of them for the first)."""
    now: dict[str, str] = entry["packages"]
    if older is None or not older["packages"]:
        return f"{len(now)} packages"
    before: dict[str, str] = older["packages"]
    changes = [
        f"{name} {before[name]}->{version}" if name in before else f"+{name} {version}"
        for name, version in sorted(now.items())
        if before.get(name) != version
    ]
    changes += [f"-{name}" for name in sorted(set(before) - set(now))]
    return ", ".join(changes) or "unchanged"
