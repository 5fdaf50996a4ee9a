"""The REPL parses client-side: the pure modules must not pull in the image stack."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[3]


def test_parser_imports_no_zodb_persistent_or_pydantic() -> None:
    code = (
        "import sys\n"
        "import batos_core.selfsyntax\n"
        "from batos_core.selfsyntax import parse, complete_context\n"
        "parse('genesis foo: 1'); complete_context('genesis f', 9)\n"
        "bad = sorted(m for m in sys.modules\n"
        "             if m.split('.')[0] in {'ZODB', 'persistent', 'pydantic', 'transaction'}\n"
        "             or m.startswith('batos_core.objects'))\n"
        "print(','.join(bad))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60, env=env
    )
    assert result.stdout.strip() == ""
