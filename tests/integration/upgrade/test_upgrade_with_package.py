"""`batos upgrade --with PKG`: a real small PyPI package the current environment lacks."""

from __future__ import annotations

import importlib.util
import json
from typing import Any

import pytest

from batos_core.protocol.builders import create_method_request, send_request

from .conftest import current_info, request, run_batos

PACKAGE = "roman"  # pure Python, one module, not a dependency of batos
SOURCE = "def toRoman_(self, n):\n    import roman\n    return roman.toRoman(n)\n"


@pytest.mark.slow
def test_a_method_importing_a_new_package_works_after_the_upgrade(daemon: Any) -> None:
    assert importlib.util.find_spec(PACKAGE) is None, f"{PACKAGE} is already in this environment"
    # Restricted (the default), a method sees only the allow-listed modules...
    restricted = request(daemon.info, create_method_request("genesis", "toRoman_", SOURCE))
    assert restricted["type"] == "create_method_reply", restricted
    refused = request(daemon.info, send_request("genesis", "toRoman:", [1994]))
    assert "import of roman is not allowed in a method" in refused["message"], refused
    # ...so a method using a package added by an upgrade is one a person trusts.
    created = request(daemon.info, create_method_request("genesis", "toRoman_", SOURCE, trusted=True))
    assert created["type"] == "create_method_reply", created
    before = request(daemon.info, send_request("genesis", "toRoman:", [1994]))
    assert before["type"] == "error_reply"
    assert "roman" in before["message"]
    done = run_batos(daemon.dirs, "upgrade", "--with", PACKAGE, "--json")
    assert done.returncode == 0, done.stderr
    outcome = json.loads(done.stdout)
    assert outcome["outcome"] == "upgraded"
    assert outcome["requirements"] == [PACKAGE]
    info = current_info(daemon.dirs, daemon)
    after = request(info, send_request("genesis", "toRoman:", [1994]))
    assert after == {"type": "send_reply", "id": after["id"], "result": "MCMXCIV"}
    # The live environment was not touched.
    assert importlib.util.find_spec(PACKAGE) is None
    history = run_batos(daemon.dirs, "incarnations")
    assert f"+{PACKAGE}" in history.stdout, history.stdout
