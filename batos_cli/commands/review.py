"""`batos proposals`, `approve`, `reject`, and the approval prompt of `batos send`.

A daemon in review mode (``batos daemon start --review``, or ``batos send
--review``) holds each generated method as a proposal until someone decides.
On a terminal, `batos send` shows the code and asks; otherwise it prints the
proposal id and waits while another terminal runs `batos approve ID`.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Annotated, Any, TextIO, cast

import typer

from batos_cli import connect, render, state
from batos_cli.env import Environment, current
from batos_cli.status import CliError, ExitStatus

if TYPE_CHECKING:
    from batos_cli.progress import EventView


def register(app: typer.Typer) -> None:
    app.command()(proposals)
    app.command()(approve)
    app.command()(reject)


ApproverOption = Annotated[
    str, typer.Option("--as", help="Name recorded as the approver (default: your login name).")
]


def proposals(
    json_out: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """List the generated methods waiting for approval (daemon started with --review)."""
    from batos_core.protocol.builders import proposals_request

    env = current()
    waiting: list[dict[str, Any]] = _call_running(proposals_request())["proposals"]
    if json_out:
        render.print_json(env, waiting)
        return
    if not waiting:
        env.out.print("no proposals are waiting for review", markup=False)
        return
    from rich.table import Table

    table = Table()
    for column in ("id", "object", "selector", "trial", "expires in"):
        table.add_column(column)
    for p in waiting:
        trial = p["trial"] if isinstance(p["trial"], dict) else {}
        table.add_row(
            p["proposal"],
            p["target_name"] or p["target"],
            p["selector"],
            "ok" if trial.get("ok") else "inconclusive",
            f"{max(0.0, p['expires'] - time.time()):.0f} s",
        )
    env.out.print(table)
    env.out.print("see the code with --json; decide with: batos approve ID | batos reject ID", markup=False)


def approve(
    proposal: Annotated[str, typer.Argument(help="Proposal id (batos proposals).")],
    approver: ApproverOption = "",
) -> None:
    """Install a proposed method; the waiting message then runs."""
    decide(current(), proposal, True, approver or default_approver())


def reject(
    proposal: Annotated[str, typer.Argument(help="Proposal id (batos proposals).")],
    approver: ApproverOption = "",
) -> None:
    """Drop a proposed method; the waiting message fails and the change log records why."""
    decide(current(), proposal, False, approver or default_approver())


def decide(env: Environment, proposal: str, approved: bool, approver: str) -> None:
    """Send the decision. Raises RemoteError (object_not_found) if it is not pending."""
    from batos_core.protocol.builders import approve_request

    _call_running(approve_request(proposal, approved, approver))
    env.err.print(f"{'approved' if approved else 'rejected'} proposal {proposal} as {approver}", markup=False)


def default_approver() -> str:
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name (e.g. a container user without a passwd entry)
        return "user"


def _call_running(request: Any) -> dict[str, Any]:
    """One request to the image's running daemon; never starts one (a fresh
    daemon has no proposals). Raises CliError NOT_FOUND when none runs."""
    from batos_core.protocol.client import Client, raise_for_error

    target = state.target()
    info = connect.running(target.config())
    if info is None:
        raise CliError("no daemon is running for this image, so no proposal is waiting", ExitStatus.NOT_FOUND)
    with Client.from_connection_info(info, timeout=target.settings.timeout) as client:
        reply = client.request(request)
    raise_for_error(reply)
    return reply


class ReviewEvents:
    """The `on_event` of a request that may meet a proposal.

    Other events go to the progress view. A proposal stops the view, then on
    a terminal shows the code and asks y/n (Ctrl-C or end of input rejects);
    elsewhere it says on stderr which id to approve, and the request waits.
    """

    def __init__(self, env: Environment, view: EventView) -> None:
        self.env = env
        self.view = view

    def on_event(self, message: dict[str, Any]) -> None:
        if message.get("kind") != "proposal":
            self.view.on_event(message)
            return
        data = message.get("data")
        if not isinstance(data, dict):
            return
        # Stop the live display before printing (it restarts on the next event).
        self.view.__exit__(None, None, None)
        if self.env.interactive:
            self._ask(data)
        else:
            where = data.get("target_name") or data.get("target")
            pid = data.get("proposal")
            self.env.err.print(
                f"proposal {pid}: {where} {data.get('selector')} waits for approval; "
                f"decide with `batos approve {pid}` or `batos reject {pid}`",
                markup=False,
                highlight=False,
            )

    def _ask(self, data: dict[str, Any]) -> None:
        from rich.prompt import Confirm
        from rich.syntax import Syntax

        err = self.env.err
        found = data.get("trial")
        trial: dict[str, Any] = found if isinstance(found, dict) else {}
        where = data.get("target_name") or data.get("target")
        err.print(
            f"proposal {data.get('proposal')}: the model wrote {where} {data.get('selector')}", markup=False
        )
        err.print(
            Syntax(
                str(data.get("source", "")).rstrip(),
                "python",
                theme="ansi_dark",
                background_color="default",
                line_numbers=True,
            )
        )
        err.print(f"its trial run returned {trial.get('value')} in {trial.get('seconds')} s", markup=False)
        interrupted = False
        try:
            answer = Confirm.ask(
                "install it?", console=err, default=False, stream=cast("TextIO", self.env.stdin)
            )
            approved = answer is True
        except (KeyboardInterrupt, EOFError) as stop:
            approved, interrupted = False, isinstance(stop, KeyboardInterrupt)
        decide(self.env, str(data.get("proposal")), approved, default_approver())
        if interrupted:
            raise KeyboardInterrupt
