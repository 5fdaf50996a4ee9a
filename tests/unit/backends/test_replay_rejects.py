"""The replay backend never serves the code of a rejected generation."""

from __future__ import annotations

import pytest

from batos_core.jit.backends.replay import NoRecordedSource, ReplayBackend

MESSAGES = [{"role": "user", "content": "write greet:"}]


def test_a_rejected_record_is_not_served() -> None:
    backend = ReplayBackend([
        {"action": "install", "selector": "greet_", "source": "def greet_(self, n):\n    return n\n"},
        {"action": "reject", "selector": "greet_", "source": "def greet_(self, n):\n    print(n)\n"},
    ])
    assert "return n" in backend.generate(MESSAGES, selector="greet_").text


def test_only_rejections_means_no_source() -> None:
    backend = ReplayBackend([{"action": "reject", "selector": "f", "source": "def f(self):\n    pass\n"}])
    with pytest.raises(NoRecordedSource):
        backend.generate(MESSAGES, selector="f")


def test_suspend_and_resume_records_do_not_blank_out_the_source() -> None:
    backend = ReplayBackend([
        {"action": "install", "selector": "greet_", "source": "def greet_(self, n):\n    return n\n"},
        {"action": "suspend", "selector": "greet_", "source": ""},
        {"action": "resume", "selector": "greet_", "source": ""},
    ])
    assert "return n" in backend.generate(MESSAGES, selector="greet_").text
