"""`batos define`: a hand-written method, restricted unless --trusted, through a real daemon."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

RESTRICTED = "def wordCount(self):\n    return len(self.text.split())\n"
# A person's method that uses what restricted code may not: a module outside the allow-list.
NEEDS_TRUST = "def pid(self):\n    import os\n    return os.getpid() > 0\n"


def test_a_defined_method_runs_restricted_and_answers(batos: Any, tmp_path: Path) -> None:
    source = tmp_path / "word_count.py"
    source.write_text(RESTRICTED)
    assert batos("send", "genesis", "setSlot:value:", "text", "'one two three'").returncode == 0
    done = batos("define", "genesis", "wordCount", "--file", str(source))
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "installed genesis wordCount as v1"
    assert batos("send", "genesis", "wordCount").stdout.strip() == "3"
    shown = json.loads(batos("source", "genesis", "wordCount", "--json").stdout)
    assert "trusted" not in shown["provenance"]


def test_an_import_outside_the_allow_list_needs_trusted(batos: Any, tmp_path: Path) -> None:
    source = tmp_path / "pid.py"
    source.write_text(NEEDS_TRUST)
    assert batos("define", "genesis", "pid", "--file", str(source)).returncode == 0
    refused = batos("send", "genesis", "pid")
    assert refused.returncode != 0
    assert "import of os is not allowed in a method" in refused.stderr
    trusted = batos("define", "genesis", "pid", "--file", str(source), "--trusted")
    assert trusted.stdout.strip() == "installed genesis pid as v2 (trusted: runs unrestricted)"
    assert batos("send", "genesis", "pid").stdout.strip() == "true"
    shown = json.loads(batos("source", "genesis", "pid", "--json").stdout)
    assert shown["provenance"]["trusted"] is True


def test_source_the_restricted_compiler_refuses_is_bad_input(batos: Any, tmp_path: Path) -> None:
    source = tmp_path / "peek.py"
    source.write_text("def peek(self):\n    return self._p_jar\n")
    done = batos("define", "genesis", "peek", "--file", str(source))
    assert done.returncode == 6, (done.returncode, done.stderr)
    assert "line 2" in done.stderr and "_p_jar" in done.stderr


def test_an_empty_or_missing_file_is_bad_input(batos: Any, tmp_path: Path) -> None:
    empty = tmp_path / "empty.py"
    empty.write_text("  \n")
    assert batos("define", "genesis", "x", "--file", str(empty)).returncode == 6
    missing = batos("define", "genesis", "x", "--file", str(tmp_path / "nope.py"))
    assert missing.returncode == 6 and "cannot read" in missing.stderr
