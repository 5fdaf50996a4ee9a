"""The llamacpp backend in a real daemon: what status says, bad model files, the token cap.

A bad GGUF must cost only the misses: the backend loads lazily on the first
one, the miss is answered ``generation_failed`` in one line naming the file,
and everything else keeps being served.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from jit_helpers import ScriptedDaemons, history, result_of, send

from batos_core.jit.backends.llamacpp_backend import engine_version
from tests.integration.conftest import start_daemon

# One thread: ggml's threads spin while they wait for each other, which a
# CPU shared with the rest of the suite punishes (docs/jit.md, "Engines").
ENV = {"BATOS_JIT_THREADS": "1", "BATOS_JIT_ATTEMPTS": "1"}


@pytest.fixture
def llama_daemon(batos_dirs: Any) -> Iterator[Any]:
    """``llama_daemon(*args)`` starts a daemon with these arguments and ``ENV``."""
    started: list[Any] = []

    def start(*args: str, env: dict[str, str] | None = None) -> Any:
        daemon = start_daemon(batos_dirs, extra_args=list(args), env={**ENV, **(env or {})})
        started.append(daemon)
        return daemon

    yield start
    for daemon in started:
        daemon.stop()


@pytest.mark.parametrize(
    ("kind", "problem"),
    [
        ("truncated", "truncated: its tensors need 98362432 bytes"),
        ("not_gguf", "not a GGUF file"),
        ("unknown_architecture", f"{engine_version()} does not support its architecture 'batosnet'"),
    ],
)
def test_a_bad_gguf_fails_only_the_misses(
    llama_daemon: Any, bad_ggufs: dict[str, Path], kind: str, problem: str
) -> None:
    path = bad_ggufs[kind]
    daemon = llama_daemon("--backend", "auto", "--model", str(path))
    status = daemon.status()
    assert status["backend"] == "llamacpp" and status["engine"] == engine_version()
    assert result_of(daemon, "genesis", "setSlot:value:", "balance", 100) is not None
    for _ in range(2):  # the load is tried again on the next miss, and fails the same way
        failed = send(daemon, "genesis", "factorial:", 5)
        assert failed["type"] == "error_reply" and failed["code"] == "generation_failed", failed
        assert f"the model backend failed: {path}: {problem}" in failed["message"]
        assert "\n" not in failed["message"]
    assert result_of(daemon, "genesis", "balance") == 100  # everything that is not a miss is served
    assert daemon.status()["type"] == "status_reply"


def test_status_names_the_engine_and_quantization_and_a_miss_runs_on_llama_cpp(
    llama_daemon: Any, smollm_gguf: Path
) -> None:
    daemon = llama_daemon("--model", str(smollm_gguf), env={"BATOS_BACKEND": ""})  # none named: auto
    status = daemon.status()
    assert (status["backend"], status["model"]) == ("llamacpp", str(smollm_gguf))
    assert status["engine"] == engine_version() and status["quantization"] == "Q4_1"
    reply = send(daemon, "genesis", "double:", 4)  # the tiny model may or may not get it right
    assert reply["type"] == "send_reply" or reply["code"] == "generation_failed", reply
    record = history(daemon, "double:")[-1]
    assert record["provenance"]["backend"] == "llamacpp" and record["provenance"]["tokens"] > 0


def test_a_model_that_never_ends_its_turn_fails_at_the_token_cap(scripted: ScriptedDaemons) -> None:
    endless: Sequence[str] = ["and so on " * 200] * 3  # 600 words: past the 400-token cap
    daemon = scripted(endless)
    failed = send(daemon, "genesis", "factorial:", 5)
    assert failed["code"] == "generation_failed", failed
    assert "the model did not finish its reply within 400 tokens" in failed["message"]
    assert result_of(daemon, "genesis", "printString")
