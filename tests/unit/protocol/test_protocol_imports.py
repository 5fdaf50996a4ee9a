"""The client side of the protocol must stay importable without heavy dependencies."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
FORBIDDEN = ("pydantic", "ZODB", "persistent", "transaction", "platformdirs")


def modules_after(statement: str) -> set[str]:
    code = f"import sys, json\n{statement}\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    return set(json.loads(out.stdout))


def test_client_imports_only_stdlib_zmq_and_ormsgpack() -> None:
    loaded = modules_after(
        "import batos_core.protocol.client, batos_core.protocol.builders, "
        "batos_core.protocol.values, batos_core.protocol.connection"
    )
    assert "zmq" in loaded and "ormsgpack" in loaded  # the check itself works
    heavy = {m for m in loaded if m.split(".")[0] in FORBIDDEN}
    assert not heavy


def test_package_init_is_light() -> None:
    loaded = modules_after("import batos_core.protocol")
    assert not {m for m in loaded if m.split(".")[0] in (*FORBIDDEN, "zmq", "ormsgpack")}
