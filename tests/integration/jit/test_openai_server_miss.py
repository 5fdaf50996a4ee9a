"""A miss answered end to end through the openai backend and a real server.

llama-cpp-python's OpenAI-compatible server serves the catalog's tiny
``smollm2-135m-instruct`` on a loopback port; a real daemon runs with
``--backend openai --model smollm2`` and ``BATOS_OPENAI_BASE_URL`` pointing
at it. A message genesis does not understand goes to the JIT, which asks the
server. The 135M model is weak at code, so the outcome is either an installed
method or a typed ``generation_failed``; either way the server was asked and
the change log says so.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path

import pytest
from jit_helpers import call, history

from batos_core.jit.pipeline import ATTEMPTS_ENV
from batos_core.protocol.builders import send_request
from tests.integration.conftest import BatosDirs, DaemonProcess, start_daemon
from tests.unit.backends.catalog_models import smollm2_path
from tests.unit.backends.llama_server import LlamaServer

MODEL = "smollm2"
SELECTOR = "fortyTwo"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(600),  # one generation of up to 400 tokens on a shared 2-core CPU
    pytest.mark.skipif(
        importlib.util.find_spec("llama_cpp") is None,
        reason="needs llama-cpp-python with its server extra (the llm and dev extras)",
    ),
]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LlamaServer]:
    running = LlamaServer.start(smollm2_path(), MODEL, tmp_path / "server.log")
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def daemon(batos_dirs: BatosDirs, server: LlamaServer) -> Iterator[DaemonProcess]:
    env = {"BATOS_OPENAI_BASE_URL": server.base_url, ATTEMPTS_ENV: "1"}
    running = start_daemon(batos_dirs, extra_args=["--backend", "openai", "--model", MODEL], env=env)
    try:
        yield running
    finally:
        running.stop()


def test_a_miss_is_answered_by_the_server_through_the_daemon(daemon: DaemonProcess) -> None:
    reply = call(daemon, send_request("genesis", SELECTOR, []), timeout=540.0)
    entries = history(daemon, SELECTOR, "genesis")
    assert len(entries) == 1, entries
    entry = entries[0]
    provenance = entry["provenance"]
    # The JIT asked the server, whatever the model wrote.
    assert (provenance["backend"], provenance["model"]) == ("openai", MODEL)
    assert provenance["tokens"] > 0 and provenance["model_seconds"] > 0
    assert provenance["attempts"] == 1
    if reply["type"] == "send_reply":
        assert entry["action"] == "install"
        understood = call(daemon, send_request("genesis", "respondsTo:", [SELECTOR]))
        assert understood["result"] is True
    else:
        assert reply["type"] == "error_reply", reply
        assert reply["code"] == "generation_failed", reply
        assert SELECTOR in reply["message"]
        assert entry["action"] == "reject"
        assert provenance["failures"] and provenance["reason"]
