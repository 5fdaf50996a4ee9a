"""The intent suite on the catalog's coders, through llama.cpp and a real daemon subprocess (marked llm).

Every selector of ``intents.INTENTS`` is sent to a fresh receiver of a daemon
started with ``--backend llamacpp --model MODEL`` and the pipeline's defaults
(K candidates chosen by behaviour, then repair turns); the miss generates
the method, the daemon re-sends the message, and the replies are checked.
The floors are the pass rates measured on the 2-core dev box (docs/jit.md)
minus a margin: the test catches a regression of the prompt or the
pipeline, not every sampling wobble.

The per-intent table is logged, and written to ``$BATOS_INTENT_REPORT_DIR``
when that is set. A few minutes per model on a 2-core CPU.
"""

from __future__ import annotations

import importlib.util
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from intents import INTENTS, IntentResult, pass_rate, receiver_name, run_intent, summary_table

from batos_core.models.cache import info
from batos_core.protocol.client import Client
from tests.integration.conftest import DaemonProcess, make_dirs, start_daemon

log = logging.getLogger(__name__)

#: Measured on the 2-core dev box (docs/jit.md, "Measured figures"), minus a margin.
FLOORS = {
    "qwen2.5-coder-0.5b-instruct": 14,
    "qwen2.5-coder-1.5b-instruct": 21,
}


def _skip_reason(model: str) -> str | None:
    if importlib.util.find_spec("llama_cpp") is None:
        return "the llamacpp backend needs the llm extra (pip install 'batos[llm]')"
    if not info(model).cached:
        return f"{model} is not pulled (batos model pull {model})"
    return None


pytestmark = [pytest.mark.llm, pytest.mark.timeout(1800)]


@pytest.fixture
def model_daemon(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[DaemonProcess]:
    reason = _skip_reason(request.param)
    if reason:
        pytest.skip(reason)
    daemon = start_daemon(make_dirs(tmp_path), extra_args=["--backend", "llamacpp", "--model", request.param])
    try:
        yield daemon
    finally:
        daemon.stop()


def run_suite(daemon: DaemonProcess) -> list[IntentResult]:
    """Every intent in order, each on its own fresh receiver."""
    with Client.from_connection_info(daemon.info, timeout=60.0, retries=0) as client:
        return [run_intent(client, intent, receiver_name(i)) for i, intent in enumerate(INTENTS, 1)]


def report(model: str, results: list[IntentResult]) -> str:
    passed, total = pass_rate(results)
    checks = sum(r.checks_passed for r in results), sum(r.checks_total for r in results)
    text = f"{model}: {passed}/{total} intents passed, {checks[0]}/{checks[1]} checks\n\n" + summary_table(
        results
    )
    log.info("%s", text)
    out = os.environ.get("BATOS_INTENT_REPORT_DIR")
    if out:
        Path(out).mkdir(parents=True, exist_ok=True)
        (Path(out) / f"intents-{model}.md").write_text(text + "\n")
    return text


@pytest.mark.parametrize(("model_daemon", "model"), [(m, m) for m in FLOORS], indirect=["model_daemon"])
def test_the_model_writes_the_intent_suite(model_daemon: DaemonProcess, model: str) -> None:
    results = run_suite(model_daemon)
    text = report(model, results)
    assert len(results) >= 20
    passed, _ = pass_rate(results)
    assert passed >= FLOORS[model], text
    # A failed generation installed nothing: the receiver still does not understand it.
    assert not any(r.status == "generation failed" and r.responds for r in results), text
