"""The committed completion scripts: in sync with the typer app, and bash completes with them."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import typer.main

from batos_cli.app import app
from batos_cli.completions_gen import generate

from .conftest import RunningDaemon, batos_environ

COMPLETIONS = Path(__file__).resolve().parents[3] / "completions"


def test_committed_scripts_match_the_app() -> None:
    for name, text in generate(typer.main.get_command(app)).items():
        assert (COMPLETIONS / name).read_text() == text, (
            f"completions/{name} is stale: run `make completions`"
        )


def bash_complete(line: str, environ: dict[str, str]) -> list[str]:
    """What bash offers for `line` (the cursor at its end) with completions/batos.bash loaded."""
    words = shlex.split(line) + ([""] if line.endswith(" ") else [])
    script = (
        f"source {shlex.quote(str(COMPLETIONS / 'batos.bash'))}\n"
        f"COMP_WORDS=({' '.join(shlex.quote(w) for w in words)}); COMP_CWORD={len(words) - 1}\n"
        "_batos; printf '%s\\n' \"${COMPREPLY[@]}\"\n"
    )
    done = subprocess.run(["bash", "-c", script], env=environ, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    return sorted(line for line in done.stdout.splitlines() if line)


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
def test_bash_completes_commands_options_and_lobby_names(daemon: RunningDaemon) -> None:
    environ = batos_environ(daemon)
    environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{environ.get('PATH', '')}"
    assert bash_complete("batos daemon st", environ) == ["start", "status", "stop"]
    assert bash_complete("batos --image x.fs insp", environ) == ["inspect"]
    assert bash_complete("batos inspect ge", environ) == ["genesis"]
    assert bash_complete("batos send ", environ) == ["genesis", "lobby", "traits"]
    assert bash_complete("batos send genesis --j", environ) == ["--json"]
