"""`batos cem`, `batos autotelic on|off|status|run-once`, `batos dataset export`."""

from __future__ import annotations

import datetime
import time
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from batos_cli import connect, render, state
from batos_cli.env import Environment, current
from batos_cli.status import CliError, ExitStatus

dataset_app = typer.Typer(help="Accepted generations as a fine-tuning dataset.", no_args_is_help=True)

POLL_S = 0.2


class Switch(StrEnum):
    on = "on"
    off = "off"
    status = "status"
    run_once = "run-once"


def register(app: typer.Typer) -> None:
    app.command()(cem)
    app.command("autotelic")(autotelic)
    app.add_typer(dataset_app, name="dataset")


def _call(request: Any) -> dict[str, Any]:
    from batos_core.protocol.client import raise_for_error

    env = current()
    with connect.client(state.target(), env.notice) as client:
        reply = client.request(request)
    raise_for_error(reply)
    return reply


def cem(
    json_out: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    acts: Annotated[int, typer.Option("--acts", "-n", min=0, max=1000, help="How many last acts.")] = 10,
) -> None:
    """The Composite Entropy Metric now: its components, trend and the last autotelic acts."""
    from batos_core.protocol.builders import cem_request

    env = current()
    reply = _call(cem_request(acts))
    if json_out:
        render.print_json(env, reply)
        return
    _print_cem(env, reply)


def autotelic(
    action: Annotated[Switch, typer.Argument(help="on, off, status or run-once.")] = Switch.status,
    wait: Annotated[bool, typer.Option("--wait/--no-wait", help="run-once: wait for the act to end.")] = True,
    timeout: Annotated[float, typer.Option(min=1.0, help="run-once: seconds to wait.")] = 600.0,
    json_out: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """The idle self-improvement loop (off by default): on, off, status, or force one act now."""
    from batos_core.protocol.builders import autotelic_request

    env = current()
    wire = "run_once" if action is Switch.run_once else action.value
    reply = _call(autotelic_request(wire))  # type: ignore[arg-type]
    if action is Switch.run_once:
        if not reply["started"]:
            raise CliError(f"no act started: {reply['message']}", ExitStatus.ERROR)
        if wait:
            reply = _wait_for(reply["started"], timeout)
    if json_out:
        render.print_json(env, reply)
        return
    _print_status(env, reply)


def _wait_for(seq: int, timeout: float) -> dict[str, Any]:
    from batos_core.protocol.builders import autotelic_request

    deadline = time.monotonic() + timeout
    while True:
        reply = _call(autotelic_request("status"))
        if reply["running"] != seq:
            reply["started"] = seq
            return reply
        if time.monotonic() > deadline:
            raise CliError(f"act {seq} still runs after {timeout:g} s", ExitStatus.ERROR)
        time.sleep(POLL_S)


@dataset_app.command("export")
def export(
    out: Annotated[Path, typer.Option("--out", "-o", help="The JSONL file to write.")],
) -> None:
    """Write every accepted generation (prompt + final code + provenance), deduplicated, as chat JSONL."""
    from batos_core.autotelic.dataset import DatasetWriter
    from batos_core.protocol.builders import dataset_request

    env = current()
    after = 0
    try:
        with out.open("w", encoding="utf-8") as fh:
            writer = DatasetWriter(fh)
            while True:
                reply = _call(dataset_request(after))
                for record in reply["records"]:
                    writer.add(record)
                after = reply["next_seq"]
                if reply["done"]:
                    break
    except OSError as exc:
        raise CliError(f"cannot write {out}: {exc}", ExitStatus.BAD_INPUT) from None
    skipped = f" ({writer.duplicates} duplicate(s) skipped)" if writer.duplicates else ""
    env.out.print(f"wrote {writer.written} record(s) to {out}{skipped}", markup=False)


def _print_cem(env: Environment, reply: dict[str, Any]) -> None:
    lines = [
        f"CEM {reply['value']:.3f}  (stagnation below {reply['threshold']:.3f}; "
        f"autotelic {'on' if reply['enabled'] else 'off'}"
        + (f", act {reply['running']} running" if reply["running"] else "")
        + ")"
    ]
    for name, value in reply["components"].items():
        lines.append(f"  {name:<11} {value:.3f}  x weight {reply['weights'].get(name, 0.0):g}")
    facts = reply["facts"]
    lines.append(
        f"  over {int(facts.get('objects', 0))} objects, {int(facts.get('slots', 0))} slots, "
        f"{int(facts.get('methods', 0))} method slots; {int(facts.get('messages', 0))} recent messages, "
        f"{int(facts.get('misses', 0))} missed"
    )
    trend = reply["trend"]
    if len(trend) >= 2:
        lines.append(f"  trend {trend[0][1]:.3f} -> {trend[-1][1]:.3f} over {len(trend)} samples")
    env.out.print("\n".join(lines), markup=False, highlight=False)
    _print_acts(env, reply["acts"])


def _print_status(env: Environment, reply: dict[str, Any]) -> None:
    budget = reply["budget"]
    env.out.print(
        f"autotelic {'on' if reply['enabled'] else 'off'}"
        + (f", act {reply['running']} running" if reply["running"] else "")
        + f": {reply['message']}\n"
        f"  budget: {budget['acts_last_hour']}/{budget['max_acts_per_hour']} acts this hour, "
        f"{budget['tokens_last_day']}/{budget['max_tokens_per_day']} tokens today",
        markup=False,
        highlight=False,
    )
    _print_acts(env, reply["acts"])


def _print_acts(env: Environment, acts: list[dict[str, Any]]) -> None:
    if not acts:
        return
    from rich.table import Table

    table = Table(title="acts", title_justify="left")
    for column in ("#", "started", "object", "selector", "outcome", "CEM", "tokens", "s"):
        table.add_column(column)
    for act in acts:
        when = datetime.datetime.fromtimestamp(float(act.get("started", 0))).strftime("%m-%d %H:%M:%S")
        cem = f"{float(act.get('cem_before', 0)):.3f}->{float(act.get('cem_after', 0)):.3f}"
        table.add_row(
            str(act.get("seq", "")),
            when,
            str(act.get("receiver_name") or act.get("receiver", "")),
            str(act.get("selector", "")),
            _outcome(act),
            cem,
            str(act.get("tokens", 0)),
            str(act.get("seconds", "")),
        )
    env.out.print(table)


def _outcome(act: dict[str, Any]) -> str:
    reason = str(act.get("reason", ""))
    return str(act.get("outcome", "")) + (f": {reason[:50]}" if reason else "")
