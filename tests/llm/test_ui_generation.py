"""The real generation of ``display_yourself`` by the CPU default model (marked llm).

``batos send genesis display_yourself --screenshot FILE`` on a fresh image,
against a daemon whose JIT is the CPU default, ``qwen2.5-coder-1.5b-instruct``: the daemon
looks the UI method up, misses, has the model write it (vet + trial in the
sandbox with Kivy), installs it, and the CLI renders it offscreen in the UI
process. Whether the model's UI ran first time, after repair, or not at all
is logged (and written to ``$BATOS_INTENT_REPORT_DIR/ui-generation.md`` when
set); the test asserts the pipeline behaved: either an installed UI that
renders to a PNG, or a clean ``generation_failed`` (exit 8) that shows the
last code and installed nothing.

Through llama.cpp on a 2-core CPU a UI candidate takes 10-20 s (about 250
tokens); the demo bench's runs installed in 65-125 s (docs/jit.md).
"""

from __future__ import annotations

import importlib.util
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from batos_core.jit.pipeline import DEFAULT_UI_ATTEMPTS, UI_ATTEMPTS_ENV
from batos_core.models.cache import info
from batos_core.protocol.builders import history_request, send_request
from batos_core.protocol.client import Client
from tests.integration.conftest import BatosDirs, DaemonProcess, make_dirs, start_daemon

log = logging.getLogger(__name__)

MODEL = "qwen2.5-coder-1.5b-instruct"
ATTEMPTS = DEFAULT_UI_ATTEMPTS
EXIT_GENERATION_FAILED = 8
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _skip_reason() -> str | None:
    if importlib.util.find_spec("llama_cpp") is None or importlib.util.find_spec("kivy") is None:
        return "needs the llm and gui extras (llama-cpp-python, kivy)"
    if not info(MODEL).cached:
        return f"{MODEL} is not pulled (batos model pull {MODEL})"
    return None


pytestmark = [
    pytest.mark.llm,
    pytest.mark.timeout(2400),  # up to six UI-sized generations on a 2-core CPU
    pytest.mark.skipif(_skip_reason() is not None, reason=_skip_reason() or ""),
]


def offscreen(dirs: BatosDirs) -> dict[str, str]:
    """The CLI's environment: the test's directories, software GL, no display."""
    env = dirs.env(
        {
            "SDL_VIDEODRIVER": "offscreen",
            "LIBGL_ALWAYS_SOFTWARE": "1",
            "KIVY_NO_ARGS": "1",
            "KIVY_NO_CONSOLELOG": "1",
            "KIVY_HOME": str(dirs.root / "kivy-home"),
            "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
            "COLUMNS": "120",
        }
    )
    env.pop("DISPLAY", None)
    env.pop("WAYLAND_DISPLAY", None)
    return env


@pytest.fixture
def model_daemon(tmp_path: Path) -> Iterator[DaemonProcess]:
    args = ["--backend", "llamacpp", "--model", MODEL]
    daemon = start_daemon(make_dirs(tmp_path), extra_args=args, env={UI_ATTEMPTS_ENV: str(ATTEMPTS)})
    try:
        yield daemon
    finally:
        daemon.stop()


def test_the_model_writes_a_ui_that_renders_or_fails_cleanly(model_daemon: DaemonProcess) -> None:
    dirs = model_daemon.dirs
    shot = dirs.root / "display_yourself.png"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "batos_cli.main",
            "send",
            "genesis",
            "display_yourself",
            "--screenshot",
            str(shot),
        ],
        env=offscreen(dirs),
        capture_output=True,
        text=True,
        timeout=2300,
    )
    with Client.from_connection_info(model_daemon.info, timeout=30.0, retries=0) as client:
        entries = client.request(history_request("genesis", "display_yourself", 5, include_source=True))
        understood = client.request(send_request("genesis", "respondsTo:", ["display_yourself"]))
    assert entries["type"] == "history_reply", entries
    newest = entries["entries"][0] if entries["entries"] else {}
    provenance = newest.get("provenance", {})
    installed = understood.get("result") is True
    if done.returncode == 0:
        outcome = "first time" if provenance.get("attempts") == 1 else "after repair"
    elif done.returncode == EXIT_GENERATION_FAILED:
        outcome = "not at all (generation_failed)"
    else:
        outcome = f"installed, UI process exit {done.returncode}" if installed else f"exit {done.returncode}"
    _report(outcome, provenance, shot, done, newest.get("source", ""))

    if done.returncode == 0:
        # The model's UI was vetted, tried, installed, and rendered a real frame.
        assert newest.get("action") == "install" and installed, newest
        assert shot.read_bytes()[:8] == PNG_MAGIC
        assert shot.stat().st_size > 2_000  # not an empty frame
        return
    # Otherwise the only acceptable failure is a clean generation_failed: the
    # error names the selector and shows the last code, and nothing was installed.
    assert done.returncode == EXIT_GENERATION_FAILED, (done.returncode, done.stderr[-3000:])
    assert "display_yourself" in done.stderr and "last code" in done.stderr, done.stderr[-3000:]
    assert not installed
    assert newest.get("action") == "reject" and provenance.get("attempts") == ATTEMPTS, newest
    assert not shot.exists()


def _report(
    outcome: str,
    provenance: dict[str, object],
    shot: Path,
    done: subprocess.CompletedProcess[str],
    source: str,
) -> None:
    lines = [
        f"display_yourself on {MODEL}: {outcome}",
        f"attempts {provenance.get('attempts')}, tokens {provenance.get('tokens')}, "
        f"model seconds {provenance.get('model_seconds')}, failures {provenance.get('failures')}",
        f"screenshot: {shot if shot.exists() else 'none'}",
        f"batos exit {done.returncode}; stderr tail:\n{done.stderr[-1500:]}",
        f"last source:\n{source}",
    ]
    text = "\n".join(lines)
    log.info("%s", text)
    out = os.environ.get("BATOS_INTENT_REPORT_DIR")
    if out:
        Path(out).mkdir(parents=True, exist_ok=True)
        (Path(out) / "ui-generation.md").write_text(text + "\n")
        if shot.exists():
            (Path(out) / "display_yourself.png").write_bytes(shot.read_bytes())
