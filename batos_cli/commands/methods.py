"""`batos history`, `source`, `revert`, `replay`, `define`: the change log of methods,
and installing one by hand; `batos methods list`: an object's methods;
`batos methods suspend | resume`: stop a method from running, and let it run again."""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Annotated, Any

import typer

from batos_cli import connect, render, state
from batos_cli.env import current
from batos_cli.status import CliError, ExitStatus

group = typer.Typer(
    help="List an object's methods; suspend one (it does not run) or resume it.", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    app.command()(history)
    app.command()(source)
    app.command()(revert)
    app.command()(replay)
    app.command()(define)
    group.command("list")(list_methods)
    group.command()(suspend)
    group.command()(resume)
    app.add_typer(group, name="methods")


def _call(request: Any) -> dict[str, Any]:
    from batos_core.protocol.client import raise_for_error

    env = current()
    with connect.client(state.target(), env.notice) as client:
        reply = client.request(request)
    raise_for_error(reply)
    return reply


def history_entries(
    target: str = "", selector: str = "", limit: int = 50, *, include_source: bool = False
) -> list[dict[str, Any]]:
    """Up to `limit` change-log entries, newest first, following the daemon's
    pages (a reply stops at half the frame cap when sources are included)."""
    from batos_core.protocol.builders import history_request

    entries: list[dict[str, Any]] = []
    before = 0
    while len(entries) < limit:
        request = history_request(
            target, selector, limit - len(entries), include_source=include_source, before_seq=before
        )
        reply = _call(request)
        entries.extend(reply["entries"])
        if not reply.get("more") or not reply["entries"]:
            break
        before = int(reply["entries"][-1]["seq"])
    return entries


def history(
    target: Annotated[str, typer.Argument(help="Only this object (lobby name or oid).")] = "",
    selector: Annotated[str, typer.Option("--selector", "-s", help="Only this selector.")] = "",
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=10_000)] = 50,
    json_out: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    export: Annotated[
        Path | None,
        typer.Option(
            "--export", help="Write the records, oldest first and with sources, as JSONL (for replay)."
        ),
    ] = None,
) -> None:
    """Every installed, replaced, reverted, replayed or rejected method, newest first."""
    env = current()
    entries = history_entries(target, selector, limit, include_source=export is not None or json_out)
    if export is not None:
        with export.open("w") as fh:
            for entry in reversed(entries):
                fh.write(json.dumps(entry, sort_keys=True) + "\n")
        env.out.print(f"wrote {len(entries)} record(s) to {export}", markup=False)
        return
    if json_out:
        render.print_json(env, entries)
        return
    if not entries:
        env.out.print("no methods have been generated or installed yet", markup=False)
        return
    from rich.table import Table

    table = Table()
    for column in ("#", "time", "action", "object", "selector", "version", "model", "candidates", "status"):
        table.add_column(column)
    for e in entries:
        prov = e["provenance"] if isinstance(e["provenance"], dict) else {}
        when = datetime.datetime.fromtimestamp(e["time"]).strftime("%Y-%m-%d %H:%M:%S")
        status = _status_text(e["action"], prov)
        table.add_row(
            str(e["seq"]),
            when,
            e["action"],
            e["target_name"] or e["target"],
            e["selector"],
            str(e["version"] or "-"),
            str(prov.get("model", prov.get("author", ""))),
            render.candidates_text(prov),
            status,
        )
    env.out.print(table)


def _status_text(action: str, provenance: dict[str, Any]) -> str:
    if action == "reject":
        return "rejected: " + str(provenance.get("reason", ""))[:60]
    if action == "suspend":
        return "suspended: " + str(provenance.get("reason", ""))[:60]
    return "ok"


def source(
    target: Annotated[str, typer.Argument(help="Lobby name or oid.")],
    selector: Annotated[str, typer.Argument(help="Selector (greet: or greet_).")],
    version: Annotated[int | None, typer.Option("--version", "-v", min=1, help="An earlier version.")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    python: Annotated[
        bool, typer.Option("--python", help="For a method written in Self: the Python it was compiled to.")
    ] = False,
) -> None:
    """Show a method's source, highlighted, with its provenance.

    A method written in Self shows its Self source; --python shows the Python it was compiled to.
    """
    from batos_core.protocol.builders import source_request

    env = current()
    reply = _call(source_request(target, selector, version))
    if json_out:
        render.print_json(env, reply)
        return
    render.print_source(env, reply, python=python)


def revert(
    target: Annotated[str, typer.Argument(help="Lobby name or oid.")],
    selector: Annotated[str, typer.Argument(help="Selector (greet: or greet_).")],
    to: Annotated[
        int | None, typer.Option("--to", min=1, help="Version to go back to (default: previous).")
    ] = None,
) -> None:
    """Make an earlier version current again (as a new version; history keeps both)."""
    from batos_core.protocol.builders import revert_request, source_request

    env = current()
    if to is None:
        current_version = _call(source_request(target, selector))["version"]
        if current_version <= 1:
            raise CliError(
                f"{target} {selector} has only version 1; nothing to revert to", ExitStatus.NOT_FOUND
            )
        to = current_version - 1
    reply = _call(revert_request(target, selector, to))
    env.out.print(
        f"{target} {selector} is now version {reply['version']} (the source of version {to})", markup=False
    )


def replay(
    from_file: Annotated[
        Path | None,
        typer.Option(
            "--from", help="A JSONL export (batos history --export). Default: this image's own log."
        ),
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List what would be installed.")] = False,
) -> None:
    """Reinstall recorded method sources, in order, without calling any model."""
    from batos_core.protocol.builders import create_method_request

    env = current()
    if from_file is not None:
        try:
            records = [json.loads(line) for line in from_file.read_text().splitlines() if line.strip()]
        except (OSError, ValueError) as exc:
            raise CliError(f"cannot read {from_file}: {exc}", ExitStatus.BAD_INPUT) from None
    else:
        records = list(reversed(history_entries(limit=10_000, include_source=True)))
    installs = [r for r in records if r.get("action") in ("install", "revert", "replay") and r.get("source")]
    if not installs:
        env.out.print("nothing to replay", markup=False)
        return
    for record in installs:
        where = record.get("target_name") or record.get("target")
        if dry_run:
            env.out.print(
                f"would install {where} {record['selector']} (recorded v{record['version']})", markup=False
            )
            continue
        provenance = dict(record.get("provenance") or {})
        provenance["replayed_from_seq"] = record.get("seq", 0)
        reply = _call(
            create_method_request(where, record["selector"], record["source"], provenance=provenance)
        )
        env.out.print(f"installed {where} {record['selector']} as v{reply['version']}", markup=False)


def list_methods(
    target: Annotated[str, typer.Argument(help="Lobby name or oid.")],
    suspended: Annotated[bool, typer.Option("--suspended", help="Only the suspended methods.")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """The methods in an object's own slots: version, language, trusted, suspended (and why)."""
    from batos_core.protocol.builders import methods_request

    env = current()
    reply = _call(methods_request(target, suspended_only=suspended))
    if json_out:
        render.print_json(env, reply["methods"])
        return
    if not reply["methods"]:
        which = "suspended methods" if suspended else "methods of its own"
        env.out.print(f"{target} ({reply['target']}) has no {which}", markup=False)
        return
    from rich.table import Table

    table = Table()
    for column in ("selector", "version", "language", "trusted", "author", "status"):
        table.add_column(column)
    for m in reply["methods"]:
        why = m["suspension"].get("reason", "") if isinstance(m["suspension"], dict) else ""
        status = f"suspended: {str(why)[:60]}" if m["suspended"] else "runs"
        trusted = "yes" if m["trusted"] else "no"
        table.add_row(m["selector"], str(m["version"]), m["language"], trusted, m["author"], status)
    env.out.print(table)


def suspend(
    target: Annotated[str, typer.Argument(help="Lobby name or oid (the holder, or an heir of it).")],
    selector: Annotated[str, typer.Argument(help="Selector (greet: or greet_).")],
    reason: Annotated[str, typer.Option("--reason", help="Why (shown to whoever sends it).")] = "",
) -> None:
    """Suspend a method: sends that reach it fail (exit 12) until it is resumed."""
    from batos_core.protocol.builders import suspension_request

    env = current()
    reply = _call(suspension_request(target, selector, suspend=True, reason=reason))
    state_text = "suspended" if reply["changed"] else "was already suspended"
    where = f"v{reply['version']}, on {reply['holder']}"
    env.out.print(f"{target} {selector} ({where}) {state_text}", markup=False)


def resume(
    target: Annotated[str, typer.Argument(help="Lobby name or oid (the holder, or an heir of it).")],
    selector: Annotated[str, typer.Argument(help="Selector (greet: or greet_).")],
) -> None:
    """Let a suspended method run again (one the supervisor suspended after it wedged the daemon)."""
    from batos_core.protocol.builders import suspension_request

    env = current()
    reply = _call(suspension_request(target, selector, suspend=False))
    state_text = "runs again" if reply["changed"] else "was not suspended"
    where = f"v{reply['version']}, on {reply['holder']}"
    env.out.print(f"{target} {selector} ({where}) {state_text}", markup=False)


def define(
    target: Annotated[str, typer.Argument(help="Lobby name or oid.")],
    selector: Annotated[str, typer.Argument(help="Selector (greet: or greet_).")],
    file: Annotated[
        Path | None, typer.Option("--file", "-f", help="The method's source (default: standard input).")
    ] = None,
    trusted: Annotated[
        bool,
        typer.Option(
            "--trusted",
            help="Run it as plain Python, outside the sandbox (recorded in its provenance). "
            "Only for code you wrote and read.",
        ),
    ] = False,
) -> None:
    """Install a hand-written method (one Python function); it runs restricted unless --trusted."""
    import sys

    from batos_core.protocol.builders import create_method_request

    env = current()
    try:
        text = file.read_text() if file is not None else sys.stdin.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise CliError(f"cannot read {file or 'standard input'}: {exc}", ExitStatus.BAD_INPUT) from None
    if not text.strip():
        raise CliError("the method's source is empty", ExitStatus.BAD_INPUT)
    reply = _call(create_method_request(target, selector, text, trusted=trusted))
    how = " (trusted: runs unrestricted)" if trusted else ""
    env.out.print(f"installed {target} {selector} as v{reply['version']}{how}", markup=False)
