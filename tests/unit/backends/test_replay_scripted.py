"""The replay backend (recorded sources) and the scripted backend (queued replies)."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from batos_core.jit.backends import Backend, BackendError, GenerationCancelled, make_backend
from batos_core.jit.backends.replay import NoRecordedSource, ReplayBackend
from batos_core.jit.backends.scripted import ScriptedBackend, ScriptExhausted

FACTORIAL_V1 = "def factorial_(self, n):\n    return 1\n"
FACTORIAL_V2 = "def factorial_(self, n):\n    return 1 if n < 2 else n * self.factorial_(n - 1)\n"
AT_PUT = "def at_put_(self, key, value):\n    self.items[key] = value\n    return self\n"
AT = "def at_(self, key):\n    return self.items[key]\n"
LOG: list[dict[str, object]] = [
    {"receiver": "0x01", "selector": "factorial:", "source": FACTORIAL_V1, "version": 1},
    {"receiver": "0x01", "selector": "at_put_", "source": AT_PUT},
    {"receiver": "0x02", "selector": "at:", "source": AT},
    {"receiver": "0x01", "selector": "factorial_", "source": FACTORIAL_V2, "version": 2},
]


def ask(text: str) -> list[dict[str, str]]:
    return [{"role": "system", "content": "rules"}, {"role": "user", "content": text}]


def code(reply: str) -> str:
    assert reply.startswith("```python\n") and reply.endswith("\n```\n")
    return reply[len("```python\n") : -len("```\n")]


def test_explicit_selector_gets_the_latest_recorded_source() -> None:
    backend = ReplayBackend(LOG)
    assert isinstance(backend, Backend)
    generation = backend.generate(ask("anything"), selector="factorial:")
    assert code(generation.text) == FACTORIAL_V2
    assert backend.generate(ask("anything"), selector="factorial_").text == generation.text
    assert generation.backend == "replay"


def test_selector_is_found_in_the_last_user_message_longest_first() -> None:
    backend = ReplayBackend(LOG)
    messages = [*ask("earlier: at:"), {"role": "assistant", "content": "..."}]
    messages.append({"role": "user", "content": "Write def at_put_(self, key, value): now."})
    assert code(backend.generate(messages).text) == AT_PUT
    assert code(backend.generate(ask("The receiver got at: 3")).text) == AT


def test_missing_selector_raises_no_recorded_source() -> None:
    backend = ReplayBackend(LOG, fence=False)
    with pytest.raises(NoRecordedSource, match="'gcd:with:'"):
        backend.generate(ask("gcd:with:"), selector="gcd:with:")
    with pytest.raises(NoRecordedSource, match="named in the prompt"):
        backend.generate(ask("nothing recorded is mentioned here"))
    # ``factorialx`` and ``myat:`` merely contain recorded names.
    with pytest.raises(NoRecordedSource):
        backend.generate(ask("factorialx myat:"))
    assert isinstance(NoRecordedSource("x"), LookupError | BackendError)


def test_reads_a_jsonl_change_log(tmp_path: Path) -> None:
    log = tmp_path / "changes.jsonl"
    log.write_text("\n".join(json.dumps(r) for r in LOG) + "\n\n", encoding="utf-8")
    backend = make_backend({"backend": "replay", "log": str(log)})
    assert backend.generate(ask("x"), selector="at:").text.count("return self.items[key]") == 1
    assert isinstance(backend, ReplayBackend) and backend.selectors == {"factorial_", "at_put_", "at_"}


def test_a_broken_change_log_names_the_line(tmp_path: Path) -> None:
    log = tmp_path / "changes.jsonl"
    log.write_text(json.dumps(LOG[0]) + "\n[1, 2]\n", encoding="utf-8")
    with pytest.raises(BackendError, match=r"changes\.jsonl:2"):
        ReplayBackend(log)


def test_scripted_replies_in_order_and_records_calls() -> None:
    backend = ScriptedBackend(["first reply", "second  reply\n"])
    pieces: list[str] = []
    one = backend.generate(ask("a"), temperature=0.0, on_token=pieces.append, selector="a_")
    two = backend.generate(ask("b"), temperature=0.7)
    assert (one.text, two.text) == ("first reply", "second  reply\n")
    assert "".join(pieces) == "first reply" and len(pieces) == one.tokens == 2
    assert [c.temperature for c in backend.calls] == [0.0, 0.7]
    assert backend.calls[0].selector == "a_" and backend.calls[1].messages[-1]["content"] == "b"
    with pytest.raises(ScriptExhausted):
        backend.generate(ask("c"))


def test_scripted_honours_max_new_tokens_and_cancel() -> None:
    backend = make_backend({"backend": "scripted", "outputs": ["one two three four", "a b c"]})
    assert backend.generate(ask("x"), max_new_tokens=2).text == "one two"
    cancel = threading.Event()
    with pytest.raises(GenerationCancelled) as raised:
        backend.generate(ask("y"), on_token=lambda _: cancel.set(), cancel=cancel)
    assert raised.value.partial == "a"


def test_make_backend_rejects_bad_configuration() -> None:
    with pytest.raises(BackendError, match="unknown backend 'gpt'"):
        make_backend({"backend": "gpt"})
    with pytest.raises(BackendError, match="unknown backend setting"):
        make_backend({"backend": "scripted", "temperature": 1})
    with pytest.raises(BackendError, match="needs log"):
        make_backend({"backend": "replay"})
