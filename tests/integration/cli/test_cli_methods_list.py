"""`batos methods list` (``methods_request``) through a real daemon: all methods, or the suspended."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def test_methods_list_shows_every_method_or_only_the_suspended(batos: Any, tmp_path: Path) -> None:
    double = tmp_path / "double.py"
    double.write_text("def double_(self, n):\n    return 2 * n\n")
    hello = tmp_path / "hello.py"
    hello.write_text("def hello(self):\n    return 'hi'\n")
    assert batos("define", "genesis", "double:", "--file", str(double)).returncode == 0
    assert batos("define", "genesis", "double:", "--file", str(double)).returncode == 0  # v2
    assert batos("define", "genesis", "hello", "--file", str(hello), "--trusted").returncode == 0
    suspended = batos("methods", "suspend", "genesis", "hello", "--reason", "testing")
    assert suspended.returncode == 0, suspended.stderr

    listed = batos("methods", "list", "genesis", "--json")
    assert listed.returncode == 0, listed.stderr
    methods = {m["selector"]: m for m in json.loads(listed.stdout)}
    assert {"double:", "hello"} <= set(methods)
    assert (methods["double:"]["slot"], methods["double:"]["version"]) == ("double_", 2)
    assert (methods["double:"]["suspended"], methods["double:"]["trusted"]) == (False, False)
    assert methods["double:"]["language"] == "python"
    assert (methods["hello"]["suspended"], methods["hello"]["trusted"]) == (True, True)
    assert methods["hello"]["suspension"]["reason"] == "testing"

    only = json.loads(batos("methods", "list", "genesis", "--suspended", "--json").stdout)
    assert [m["selector"] for m in only] == ["hello"]
    table = batos("methods", "list", "genesis", "--suspended").stdout
    assert "hello" in table and "suspended: testing" in table and "double:" not in table

    missing = batos("methods", "list", "0xdeadbeef")
    assert missing.returncode != 0
    assert "0xdeadbeef" in missing.stderr
