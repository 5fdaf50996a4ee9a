"""Generated methods cannot leave the object world (issue 14): the escape corpus.

Every case of ``escape_corpus.CORPUS`` is a model reply answering a real miss
in a real daemon (scripted backend, one attempt, one candidate), then called
again, and called with another argument. Each must end in an error (refused at
vet or compile, failed in the trial, or raised in the daemon) on every call it
is armed on, and must leave no harm behind: no harm marker in a reply, a slot,
the daemon's log or output, or the change log; no sentinel file; a daemon
still running. See ``escape_corpus`` for the rules and ``escape_daemon`` for
how the cases are driven (all of them first, in corpus order, then judged).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from escape_corpus import CONTROL, CORPUS, HARM_MARKERS, SENTINEL, EscapeCase
from escape_daemon import CaseRun, harm_found, run_corpus


@pytest.fixture(scope="module")
def corpus_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, CaseRun]:
    """Every case (and the control) driven through daemons; judged by the tests below."""
    return run_corpus([CONTROL, *CORPUS], tmp_path_factory.mktemp("escapes"))


def _shown(run: CaseRun) -> str:
    lines = [f"outcome: {run.outcome()}"]
    for call in run.calls:
        reply = json.dumps(call.reply, default=repr)
        lines.append(f"{call.label} call {call.args}: {reply[:300]}")
    return "\n".join(lines)


@pytest.mark.parametrize("case", CORPUS, ids=lambda case: case.name)
def test_an_escape_ends_in_an_error_and_leaves_no_harm(
    corpus_runs: dict[str, CaseRun], case: EscapeCase
) -> None:
    run = corpus_runs[case.name]
    assert not run.broken, f"the case could not be judged: {run.broken}"
    problems = harm_found(run, HARM_MARKERS)
    if run.daemon_died:
        problems.append("the daemon died")
    if run.sentinel.exists():
        problems.append(f"the sentinel {run.sentinel.name} was written (a file write or a process ran)")
    for call in run.calls:
        if case.armed_on(call.label) and not call.failed:
            problems.append(f"the {call.label} call, which the attack is armed on, returned (no error)")
    assert not problems, f"{case.name} (aims at {case.aims}):\n" + "\n".join(problems) + "\n" + _shown(run)


def test_the_control_method_is_installed_and_answers_every_call(corpus_runs: dict[str, CaseRun]) -> None:
    """The harness sees success when there is one: the same path as the corpus, a harmless method."""
    run = corpus_runs[CONTROL.name]
    assert not run.broken, run.broken
    assert run.installed and not run.daemon_died
    assert [(call.label, call.reply.get("result")) for call in run.calls] == [
        ("first", 2),
        ("later", 2),
        ("other", 3),
    ], _shown(run)
    assert harm_found(run, HARM_MARKERS) == []


def test_a_refusal_names_its_reason_in_the_miss_reply(corpus_runs: dict[str, CaseRun]) -> None:
    """Whoever sent the message sees why the method was refused: the change log's reason is in the reply."""
    refused = [run for run in corpus_runs.values() if run.outcome() == "refused"]
    assert refused, "no case was refused at all"
    missing = []
    for run in refused:
        reply = run.calls[0].reply
        rejects = [record for record in run.history if record.get("action") == "reject"]
        reason = rejects[-1]["provenance"]["reason"] if rejects else ""
        if not reason or reason not in reply.get("message", ""):
            missing.append(f"{run.case.name}: reason {reason!r}, reply {reply.get('message', '')[:200]!r}")
    assert not missing, "\n".join(missing)


def test_the_vet_refusals_say_what_was_refused(corpus_runs: dict[str, CaseRun]) -> None:
    """Three cases break a written-out vetting rule; the user is told which."""
    expected = {
        "format_literal_mro": "a string refers to a reserved underscore attribute",
        "gen_gi_frame_literal": "attribute gi_frame is not allowed",
        "default_arg_top": "the function takes 2 parameters besides self",
    }
    for name, reason in expected.items():
        reply = corpus_runs[name].calls[0].reply
        assert reply["type"] == "error_reply" and reason in reply["message"], (name, reply)


def test_no_source_contains_a_marker_or_a_stray_sentinel() -> None:
    """A marker found after a run is harm done, never the source quoted back (replies, logs quote it)."""
    names = [case.name for case in CORPUS]
    assert len(names) == len(set(names)) and len(CORPUS) >= 40
    for case in [*CORPUS, CONTROL]:
        source = case.source_for(Path("/nowhere/sentinel"))
        assert not [marker for marker in HARM_MARKERS if marker in source], case.name
        assert SENTINEL not in source
