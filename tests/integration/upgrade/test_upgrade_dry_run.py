"""`batos upgrade --dry-run` builds and verifies, and changes nothing."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from batos_core.protocol.builders import status_request

from .conftest import make_wheel, request, run_batos


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_dry_run_verifies_and_changes_nothing(daemon: Any, tmp_path: Path) -> None:
    daemon.install_counter()
    status = request(daemon.info, status_request())
    image_before = _digest(daemon.image)
    wheel = make_wheel(tmp_path, "goodpkg", "ANSWER = 42\n")
    done = run_batos(daemon.dirs, "upgrade", "--dry-run", "--with", str(wheel), "--json")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["dry_run"] is True
    assert "goodpkg" in summary["modules"]
    assert summary["methods"] >= 1 and summary["objects"] > summary["methods"]
    assert Path(summary["environment"], "bin", "python").exists()
    after = request(daemon.info, status_request())
    assert (after["pid"], after["incarnation"]) == (status["pid"], status["incarnation"])
    assert _digest(daemon.image) == image_before


def test_dry_run_with_a_missing_interpreter_fails_and_says_why(daemon: Any) -> None:
    status = request(daemon.info, status_request())
    done = run_batos(daemon.dirs, "upgrade", "--dry-run", "--python", "/nonexistent/python3")
    assert done.returncode == 1
    assert "cannot run /nonexistent/python3" in done.stderr
    after = request(daemon.info, status_request())
    assert (after["pid"], after["incarnation"]) == (status["pid"], status["incarnation"])
