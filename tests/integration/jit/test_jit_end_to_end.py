"""doesNotUnderstand: through a real daemon: generate, install, re-send, persist,
history/source/revert, export and replay into a fresh image, the replay backend,
and the CLI's view of it all."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from jit_helpers import (
    DEPOSIT,
    FACTORIAL,
    GREET,
    BatosCli,
    ScriptedDaemons,
    fenced,
    history,
    result_of,
    slot_names,
)
from jit_helpers import call as daemon_call
from jit_helpers import send as daemon_send

from batos_core.protocol.builders import create_method_request, history_request, source_request

HI = "def greet_(self, name):\n    return 'Hi, ' + name\n"


def _source(daemon: Any, selector: str, version: int | None = None) -> dict[str, Any]:
    reply = daemon_call(daemon, source_request("genesis", selector, version))
    assert reply["type"] == "source_reply", reply
    return reply


def _generate_three(scripted: ScriptedDaemons) -> Any:
    daemon = scripted([fenced(GREET), fenced(FACTORIAL), fenced(DEPOSIT)])
    assert result_of(daemon, "genesis", "setSlot:value:", "balance", 100) is not None
    assert result_of(daemon, "genesis", "greet:", "Ada") == "Hello, Ada!"
    assert result_of(daemon, "genesis", "factorial:", 5) == 120
    assert result_of(daemon, "genesis", "deposit:", 50) == 150
    return daemon


def test_a_miss_is_generated_installed_and_the_message_resent(scripted: ScriptedDaemons) -> None:
    daemon = _generate_three(scripted)
    # The script is used up: these answers come from the installed methods.
    assert result_of(daemon, "genesis", "greet:", "Bob") == "Hello, Bob!"
    assert result_of(daemon, "genesis", "factorial:", 10) == 3628800
    assert {"greet_", "factorial_", "deposit_"} <= set(slot_names(daemon))
    greet = _source(daemon, "greet:")
    assert (greet["version"], greet["source"]) == (1, GREET)
    provenance = greet["provenance"]
    assert provenance["author"] == "llm" and provenance["backend"] == "scripted"
    assert provenance["attempts"] == 1 and provenance["trial"]["ok"] is True
    assert provenance["trial"]["value"] == "'Hello, Ada!'"  # the trial reports a repr
    assert [e["action"] for e in history(daemon)] == ["install", "install", "install"]


def test_generated_methods_and_their_writes_persist_across_restarts(scripted: ScriptedDaemons) -> None:
    daemon = _generate_three(scripted)
    daemon.stop()
    # No model now: a method that was not stored would be a plain miss.
    restarted = scripted.plain()
    assert result_of(restarted, "genesis", "balance") == 150
    assert result_of(restarted, "genesis", "greet:", "Cy") == "Hello, Cy!"
    assert result_of(restarted, "genesis", "factorial:", 4) == 24
    # The generated deposit: writes `self.balance = ...` and never touches
    # _p_changed; the write must still reach the disk.
    assert result_of(restarted, "genesis", "deposit:", 7) == 157
    restarted.stop()
    again = scripted.plain()
    assert result_of(again, "genesis", "balance") == 157


def test_history_source_and_revert_from_the_cli(scripted: ScriptedDaemons, cli: BatosCli) -> None:
    daemon = scripted([fenced(GREET)])
    assert result_of(daemon, "genesis", "greet:", "Ada") == "Hello, Ada!"
    reply = daemon_call(daemon, create_method_request("genesis", "greet:", HI))
    assert reply == {"type": "create_method_reply", "id": reply["id"], "version": 2}

    table = cli("history")
    assert table.returncode == 0, table.stderr
    assert "greet_" in table.stdout and "install" in table.stdout and "scripted" in table.stdout
    listed = cli("history", "--json")
    assert listed.returncode == 0, listed.stderr
    entries = json.loads(listed.stdout)
    assert [(e["action"], e["version"], e["provenance"]["author"]) for e in entries] == [
        ("install", 2, "user"),
        ("install", 1, "llm"),
    ]
    assert entries[1]["source"] == GREET

    current = cli("source", "genesis", "greet:")
    assert current.returncode == 0, current.stderr
    assert "greet_ v2" in current.stdout and "'Hi, '" in current.stdout
    first = cli("source", "genesis", "greet:", "--version", "1")
    assert "greet_ v1" in first.stdout and "Hello, {name}" in first.stdout
    missing = cli("source", "genesis", "greet:", "--version", "9")
    assert missing.returncode == 7 and "no version 9" in missing.stderr

    reverted = cli("revert", "genesis", "greet:")
    assert reverted.returncode == 0, reverted.stderr
    assert "now version 3 (the source of version 1)" in reverted.stdout
    assert _source(daemon, "greet:")["source"] == GREET
    assert result_of(daemon, "genesis", "greet:", "Ada") == "Hello, Ada!"
    kept = history(daemon, "greet_")
    assert [(e["action"], e["version"]) for e in kept] == [("revert", 3), ("install", 2), ("install", 1)]
    assert [e["source"] for e in kept] == [GREET, HI, GREET]
    assert _source(daemon, "greet:", 2)["source"] == HI  # the replaced version is still there


def _export(cli: BatosCli, path: Path) -> list[dict[str, Any]]:
    exported = cli("history", "--export", str(path))
    assert exported.returncode == 0, exported.stderr
    records = [json.loads(line) for line in path.read_text().splitlines()]
    assert f"wrote {len(records)} record(s)" in exported.stdout
    return records


def test_export_then_replay_into_a_fresh_image_without_a_model(
    scripted: ScriptedDaemons, cli: BatosCli, tmp_path: Path
) -> None:
    _generate_three(scripted)
    log = tmp_path / "changes.jsonl"
    records = _export(cli, log)
    assert [r["selector"] for r in records] == ["greet_", "factorial_", "deposit_"]  # oldest first

    fresh = tmp_path / "fresh.fs"  # its daemon is auto-started with BATOS_BACKEND=none
    before = cli("send", "genesis", "greet:", "Ada", image=fresh)
    assert before.returncode == 4 and "SlotNotFound" in before.stderr, before.stderr
    replayed = cli("replay", "--from", str(log), image=fresh)
    assert replayed.returncode == 0, replayed.stderr
    assert replayed.stdout.count("installed genesis") == 3
    assert cli("send", "genesis", "setSlot:value:", "balance", "10", image=fresh).returncode == 0
    for words, expected in [
        (("greet:", "Ada"), "Hello, Ada!"),
        (("factorial:", "6"), "720"),
        (("deposit:", "5"), "15"),
    ]:
        sent = cli("send", "genesis", *words, image=fresh)
        assert (sent.returncode, sent.stdout.strip()) == (0, expected), sent.stderr
    after = json.loads(cli("history", "--json", image=fresh).stdout)
    assert {e["action"] for e in after} == {"replay"}
    assert all(e["provenance"]["via"] == "replay" for e in after)


def test_a_replay_backend_daemon_regenerates_a_missing_method_from_the_log(
    scripted: ScriptedDaemons, cli: BatosCli, tmp_path: Path
) -> None:
    first = _generate_three(scripted)
    log = tmp_path / "changes.jsonl"
    _export(cli, log)
    first.stop()
    fresh = tmp_path / "fresh.fs"
    daemon = scripted.factory(image=fresh, extra_args=["--backend", "replay", "--model", str(log)])
    assert result_of(daemon, "genesis", "greet:", "Ada") == "Hello, Ada!"
    greet = daemon_call(daemon, source_request("genesis", "greet:"))
    assert greet["source"] == GREET and greet["provenance"]["backend"] == "replay"
    # A selector the log never recorded is not made up.
    unknown = daemon_send(daemon, "genesis", "withdraw:", 5)
    assert unknown["code"] == "generation_failed", unknown
    assert "no recorded source" in unknown["message"]


def test_the_cli_prints_the_result_of_a_generated_method(scripted: ScriptedDaemons, cli: BatosCli) -> None:
    scripted([fenced(GREET), fenced(FACTORIAL)])
    sent = cli("send", "genesis", "greet:", "Ada")
    assert (sent.returncode, sent.stdout) == (0, "Hello, Ada!\n"), sent.stderr
    assert "Traceback" not in sent.stderr
    as_json = cli("send", "--json", "genesis", "factorial:", "5")
    assert as_json.returncode == 0, as_json.stderr
    reply = json.loads(as_json.stdout)  # no progress output mixed into stdout
    assert (reply["type"], reply["result"]) == ("send_reply", 120)


def test_a_history_larger_than_one_frame_comes_in_pages(scripted: ScriptedDaemons, cli: BatosCli) -> None:
    # A 64 KiB frame cap and 40 methods of ~3 KB each: the history with sources
    # is about twice the cap, which before paging was a reply_too_large error.
    daemon = scripted([], extra_args=["--max-frame-bytes", str(64 * 1024)])
    padding = "    # " + "x" * 3000 + "\n"
    for n in range(40):
        source = f"def m{n}(self):\n{padding}    return {n}\n"
        assert daemon_call(daemon, create_method_request("genesis", f"m{n}", source))["type"] == (
            "create_method_reply"
        )
    first = daemon_call(daemon, history_request(limit=10_000, include_source=True))
    assert first["more"] is True and 0 < len(first["entries"]) < 40
    last_seq = first["entries"][-1]["seq"]
    second = daemon_call(daemon, history_request(limit=10_000, include_source=True, before_seq=last_seq))
    assert second["entries"][0]["seq"] == last_seq - 1

    listed = cli("history", "--json", "--limit", "10000")
    assert listed.returncode == 0, listed.stderr
    entries = json.loads(listed.stdout)
    assert [e["selector"] for e in entries] == [f"m{n}" for n in reversed(range(40))]
    assert all(e["source"].startswith(f"def {e['selector']}(") for e in entries)
    replay = cli("replay", "--dry-run")
    assert replay.returncode == 0, replay.stderr
    assert replay.stdout.count("would install") == 40
