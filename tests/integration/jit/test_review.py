"""Review of generated methods (``--review``): a vetted, trialled method waits as a
proposal until someone approves it, from the protocol, the CLI, or a terminal prompt."""

from __future__ import annotations

import os
import queue
import re
import select
import subprocess
import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

import pytest
from jit_helpers import GREET, BatosCli, ScriptedDaemons, call, fenced, history, slot_names

from batos_cli import connect
from batos_core.daemon.context import DaemonInfo, HandlerContext
from batos_core.daemon_config import DaemonConfig
from batos_core.image import open_image
from batos_core.image_format import MIGRATIONS
from batos_core.jit.backends.scripted import ScriptedBackend
from batos_core.jit.pipeline import JitCompiler, JitSettings, ProposalRejected
from batos_core.jit.review import ProposalNotFound, ReviewBoard, ReviewClosed
from batos_core.methods.changelog import change_log
from batos_core.objects import SlotNotFound, format_oid
from batos_core.protocol.builders import (
    approve_request,
    eval_request,
    proposals_request,
    send_request,
    source_request,
    status_request,
)
from batos_core.protocol.client import Client

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


class PendingSend:
    """A send running in a thread on its own client, recording its events."""

    def __init__(
        self,
        daemon: Any,
        selector: str = "greet:",
        args: tuple[Any, ...] = ("Ada",),
        *,
        review: bool = False,
        message: Mapping[str, Any] | None = None,
    ) -> None:
        self.events: list[dict[str, Any]] = []
        self.proposals: queue.Queue[dict[str, Any]] = queue.Queue()
        self.reply: dict[str, Any] = {}
        if message is None:
            message = send_request("genesis", selector, list(args), review=review)

        def run() -> None:
            with Client.from_connection_info(daemon.info, timeout=30.0, retries=0) as client:
                self.reply = client.request(message, on_event=self._on_event)

        self.thread = threading.Thread(target=run)
        self.thread.start()

    def _on_event(self, message: dict[str, Any]) -> None:
        self.events.append(message)
        if message["kind"] == "proposal":
            self.proposals.put(message["data"])

    def proposal(self, timeout: float = 60.0) -> dict[str, Any]:
        return self.proposals.get(timeout=timeout)

    def result(self, timeout: float = 60.0) -> dict[str, Any]:
        self.thread.join(timeout)
        assert not self.thread.is_alive(), "the send never finished"
        return self.reply


def _timed(action: Callable[[], dict[str, Any]]) -> tuple[dict[str, Any], float]:
    started = time.monotonic()
    reply = action()
    return reply, time.monotonic() - started


def test_a_proposal_waits_for_approval_and_review_requests_skip_the_busy_worker(
    scripted: ScriptedDaemons,
) -> None:
    # One worker, and it is the one waiting: whatever answers now is answered off the workers.
    daemon = scripted([fenced(GREET)], extra_args=["--review", "--workers", "1"])
    pending = PendingSend(daemon)
    proposal = pending.proposal()
    assert (proposal["selector"], proposal["source"], proposal["target_name"]) == ("greet_", GREET, "genesis")
    assert proposal["trial"]["ok"] is True and proposal["expires"] - proposal["created"] == pytest.approx(600)
    with Client.from_connection_info(daemon.info, timeout=5.0, retries=0) as other:
        listed, list_s = _timed(lambda: other.request(proposals_request()))
        status, status_s = _timed(lambda: other.request(status_request()))
        time.sleep(2.5)  # long enough for the waiting request to send a heartbeat
        approved, approve_s = _timed(
            lambda: other.request(approve_request(proposal["proposal"], True, "ada"))
        )
    assert [p["proposal"] for p in listed["proposals"]] == [proposal["proposal"]] and list_s < 1.0
    assert listed["proposals"][0]["source"] == GREET
    assert status["type"] == "status_reply" and status_s < 1.0
    assert approved == {
        "type": "approve_reply",
        "id": approved["id"],
        "proposal": proposal["proposal"],
        "approved": True,
    }
    assert approve_s < 1.0
    reply = pending.result()
    assert reply["type"] == "send_reply" and reply["result"] == "Hello, Ada!", reply
    waits = [e for e in pending.events if e["kind"] == "heartbeat"]
    assert any(e["data"]["phase"] == "awaiting approval" for e in waits), pending.events
    provenance = call(daemon, source_request("genesis", "greet:"))["provenance"]
    assert provenance["approver"] == "ada" and provenance["author"] == "llm"
    assert call(daemon, proposals_request())["proposals"] == []


def test_a_rejected_proposal_installs_nothing_and_is_recorded(scripted: ScriptedDaemons) -> None:
    daemon = scripted([fenced(GREET)], extra_args=["--review"])
    pending = PendingSend(daemon)
    proposal = pending.proposal()
    assert "greet_" not in slot_names(daemon)  # another worker answers: not installed while waiting
    decided = call(daemon, approve_request(proposal["proposal"], False, "bob"))
    assert decided["approved"] is False
    reply = pending.result()
    assert (reply["type"], reply["code"], reply["name"]) == (
        "error_reply",
        "generation_failed",
        "ProposalRejected",
    )
    assert "rejected in review by bob" in reply["message"] and "def greet_" in reply["message"]
    assert "greet_" not in slot_names(daemon)
    [record] = history(daemon, "greet_")
    assert (record["action"], record["source"]) == ("reject", GREET)
    assert record["provenance"]["reason"] == "rejected in review by bob"
    again = call(daemon, approve_request(proposal["proposal"], True, "bob"))
    assert (again["type"], again["code"]) == ("error_reply", "object_not_found"), again
    assert "no pending proposal" in again["message"]


def test_the_send_review_flag_asks_even_when_the_daemon_does_not(scripted: ScriptedDaemons) -> None:
    daemon = scripted([fenced(GREET), fenced("def wave(self):\n    return 'o/'\n")])
    pending = PendingSend(daemon, review=True)
    proposal = pending.proposal()
    call(daemon, approve_request(proposal["proposal"], True, "ada"))
    assert pending.result()["result"] == "Hello, Ada!"
    # Without the flag this daemon installs at once.
    plain = PendingSend(daemon, "wave", ())
    assert plain.result()["result"] == "o/"
    assert plain.proposals.empty()


def test_the_eval_review_flag_asks_as_the_send_flag_does(scripted: ScriptedDaemons) -> None:
    # The REPL's `:review on` sets it on every statement it evaluates.
    daemon = scripted([fenced(GREET)])
    pending = PendingSend(daemon, message=eval_request("genesis greet: 'Ada'", review=True))
    proposal = pending.proposal()
    assert proposal["selector"] == "greet_"
    call(daemon, approve_request(proposal["proposal"], True, "ada"))
    assert pending.result()["result"] == "Hello, Ada!"


def test_stopping_the_daemon_rejects_what_waits_instead_of_hanging(scripted: ScriptedDaemons) -> None:
    daemon = scripted([fenced(GREET)], extra_args=["--review"])
    pending = PendingSend(daemon)
    pending.proposal()
    started = time.monotonic()
    assert daemon.stop(timeout=30.0) == 0
    assert time.monotonic() - started < 15.0
    reply = pending.result()
    # Not a rejection (nobody said no): the client is told to retry once the daemon is back.
    assert reply["code"] == "shutting_down" and "the daemon is stopping" in reply["message"], reply


def _read_until(stream: Any, pattern: re.Pattern[str], timeout: float) -> tuple[re.Match[str], str]:
    """Read `stream` line by line (in a thread) until `pattern` matches; returns the match and the text."""
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        for line in stream:
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    seen = ""
    deadline = time.monotonic() + timeout
    while (remaining := deadline - time.monotonic()) > 0:
        try:
            seen += lines.get(timeout=remaining)
        except queue.Empty:
            break
        found = pattern.search(seen)
        if found:
            return found, seen
    raise AssertionError(f"{pattern.pattern!r} never appeared in:\n{seen}")


def test_a_non_interactive_send_prints_the_id_and_another_terminal_approves(
    scripted: ScriptedDaemons, cli: BatosCli
) -> None:
    daemon = scripted([fenced(GREET)])
    sender = cli.popen(
        "send", "--review", "genesis", "greet:", "Ada", stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        found, _ = _read_until(sender.stderr, re.compile(r"proposal ([0-9a-f]+): genesis greet_ waits"), 90)
        proposal = found.group(1)
        assert f"batos approve {proposal}" in found.string
        listed = cli("proposals")
        assert listed.returncode == 0 and proposal in listed.stdout and "greet_" in listed.stdout
        approved = cli("approve", proposal, "--as", "carol")
        assert approved.returncode == 0, approved.stderr
        assert f"approved proposal {proposal} as carol" in approved.stderr
        out, _ = sender.communicate(timeout=60)
    finally:
        if sender.poll() is None:
            sender.kill()
        sender.wait()
    assert (sender.returncode, out) == (0, "Hello, Ada!\n")
    assert call(daemon, source_request("genesis", "greet:"))["provenance"]["approver"] == "carol"
    twice = cli("reject", proposal)
    assert twice.returncode == 7 and "no pending proposal" in twice.stderr
    assert cli("proposals").stdout.strip() == "no proposals are waiting for review"


def test_review_commands_never_start_a_daemon(cli: BatosCli, batos_dirs: Any) -> None:
    listed = cli("proposals")
    assert listed.returncode == 7 and "no daemon is running" in listed.stderr
    assert cli("approve", "abcd1234").returncode == 7
    assert (
        connect.running(DaemonConfig(image=str(batos_dirs.image), runtime_dir=batos_dirs.runtime_dir)) is None
    )


def _on_a_terminal(cli: BatosCli, args: list[str], answer: bytes, timeout: float = 90.0) -> tuple[int, str]:
    """Run `batos *args` with a pseudo-terminal as stdin/stdout/stderr; type `answer`
    at the approval prompt. Returns the exit status and the output without colours."""
    master, slave = os.openpty()
    proc = cli.popen(*args, stdin=slave, stdout=slave, stderr=slave)
    os.close(slave)
    output = b""
    answered = False
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            readable, _, _ = select.select([master], [], [], 0.5)
            if not readable:
                if proc.poll() is not None:
                    break
                continue
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            output += chunk
            if not answered and b"install it?" in output:
                os.write(master, answer)
                answered = True
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    return proc.returncode, ANSI.sub("", output.decode(errors="replace"))


def test_on_a_terminal_send_shows_the_code_and_asks(scripted: ScriptedDaemons, cli: BatosCli) -> None:
    daemon = scripted([fenced(GREET), fenced(GREET)], extra_args=["--review"])
    status, shown = _on_a_terminal(cli, ["send", "genesis", "greet:", "Ada"], b"n\n")
    assert "def greet_(self, name):" in shown and "install it?" in shown, shown
    assert status == 8 and "rejected in review by tester" in shown, shown
    assert "greet_" not in slot_names(daemon)

    status, shown = _on_a_terminal(cli, ["send", "genesis", "greet:", "Ada"], b"y\n")
    assert status == 0 and "Hello, Ada!" in shown, shown
    provenance = call(daemon, source_request("genesis", "greet:"))["provenance"]
    assert provenance["approver"] == "tester"


# The pipeline and the board in-process (no daemon): expiry, and the board's rules.


def test_an_undecided_proposal_expires_as_a_rejection() -> None:
    image = open_image("memory://", migrations=MIGRATIONS)
    events: list[tuple[str, dict[str, Any]]] = []
    board = ReviewBoard()
    try:
        with image.session() as session:
            genesis = session.lobby.genesis
            miss = SlotNotFound(format_oid(genesis), "greet_", arguments=["Ada"])
            ctx = HandlerContext(
                session=session,
                config=DaemonConfig(image="memory://"),
                info=DaemonInfo(pid=os.getpid(), image="memory://", started=time.time()),
                emit=lambda kind, data: events.append((kind, data)),
                reviews=board,
            )
            compiler = JitCompiler(
                ScriptedBackend([fenced(GREET)]),
                JitSettings(review=True, review_timeout_s=0.5, candidates=1),
            )
            with pytest.raises(ProposalRejected, match=r"no decision within 0\.5 s"):
                compiler.on_miss(miss, ctx, None)
            session.abort()
            [record] = list(change_log(session.root))
            assert (record.action, record.selector, record.source) == ("reject", "greet_", GREET)
    finally:
        image.close()
    assert [kind for kind, _ in events].count("proposal") == 1
    assert board.pending() == []


def test_the_board_hands_a_decision_to_the_waiting_thread() -> None:
    board = ReviewBoard()
    proposal = board.propose(
        target="0x8", target_name="genesis", selector="f", source="", trial={}, timeout_s=30
    )
    assert board.pending() == [proposal]
    threading.Timer(0.1, lambda: board.decide(proposal.id, approve=True, approver="ada")).start()
    decision = board.wait(proposal)
    assert (decision.approved, decision.approver) == (True, "ada")
    with pytest.raises(ProposalNotFound):
        board.decide(proposal.id, approve=False, approver="bob")
    with pytest.raises(ProposalNotFound):
        board.decide("nope", approve=True, approver="bob")


def test_closing_the_board_rejects_the_waiting_and_refuses_new_proposals() -> None:
    board = ReviewBoard()
    proposal = board.propose(target="0x8", target_name="", selector="f", source="", trial={}, timeout_s=30)
    threading.Timer(0.1, board.close, args=("stopping",)).start()
    decision = board.wait(proposal)
    assert (decision.approved, decision.approver, decision.reason) == (False, "shutdown", "stopping")
    with pytest.raises(ReviewClosed):
        board.propose(target="0x8", target_name="", selector="g", source="", trial={})


def test_waiting_proposals_do_not_take_the_daemons_workers(scripted: ScriptedDaemons) -> None:
    # One worker, two proposals waiting: before, the second miss and every
    # other request queued behind the first wait (up to the review timeout).
    wave = "def wave(self):\n    return 'o/'\n"
    daemon = scripted([fenced(GREET), fenced(wave)], extra_args=["--review", "--workers", "1"])
    first = PendingSend(daemon)
    first.proposal()
    second = PendingSend(daemon, "wave", ())
    second.proposal()  # generated and filed by a stand-in while the only worker waits
    deadline = time.monotonic() + 10  # the event comes just before the wait begins
    while (status := call(daemon, status_request()))["stand_ins"] < 2:
        assert time.monotonic() < deadline, status
        time.sleep(0.01)
    assert status["workers"] == 1
    reply, seconds = _timed(lambda: call(daemon, send_request("genesis", "printString")))
    assert reply["type"] == "send_reply" and seconds < 5.0
    for proposal in call(daemon, proposals_request())["proposals"]:
        call(daemon, approve_request(proposal["proposal"], True, "ada"))
    assert first.result()["result"] == "Hello, Ada!"
    assert second.result()["result"] == "o/"
    assert call(daemon, status_request())["stand_ins"] == 0
