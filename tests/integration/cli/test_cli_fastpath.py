"""`batos send` and `batos --help` answer without loading typer, click, rich or pydantic,
and print exactly what the typer command prints."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

HEAVY = ("typer", "click", "rich", "pydantic", "prompt_toolkit")

PROBE = r"""
import io, json, sys
import batos_cli.main
from batos_cli import env as env_module
results = {}
for name, args in (("help", ["--help"]), ("send", ["send", "genesis", "setSlot:value:", "x", "41"]),
                   ("json", ["send", "genesis", "x", "--json"]), ("miss", ["send", "genesis", "nope"])):
    out, err = io.StringIO(), io.StringIO()
    env_module.use(env_module.Environment(stdout=out, stderr=err))
    code = batos_cli.main.main(args)
    results[name] = [code, out.getvalue(), err.getvalue()]
results["modules"] = sorted(sys.modules)
print(json.dumps(results))
"""


def _probe(env: dict[str, str]) -> dict[str, Any]:
    done = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    report: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return report


def test_fast_sends_load_no_cli_framework(module_daemon: Any) -> None:
    report = _probe(module_daemon.dirs.env())
    loaded = sorted(m for m in report["modules"] if m.split(".")[0] in HEAVY)
    # The miss prints its error with rich; everything before it loads none of these.
    assert [m for m in loaded if not m.startswith("rich")] == []
    assert report["help"][0] == 0 and report["help"][1].startswith("Usage: batos")
    assert report["send"][0] == 0 and "x: 41" in report["send"][1]
    assert report["json"][0] == 0 and json.loads(report["json"][1])["result"] == 41
    assert report["miss"][0] == 4 and "does not understand 'nope'" in report["miss"][2]


def test_fast_and_typer_paths_print_the_same(module_daemon: Any) -> None:
    env = module_daemon.dirs.env()
    image = env["BATOS_IMAGE"]
    base = [sys.executable, "-m", "batos_cli.main"]
    fast = subprocess.run(
        [*base, "send", "genesis", "printString"], env=env, capture_output=True, text=True, timeout=120
    )
    # A global option sends the same command through the typer app.
    slow = subprocess.run(
        [*base, "--image", image, "send", "genesis", "printString"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert (fast.returncode, fast.stdout) == (slow.returncode, slow.stdout)
    assert fast.stdout.startswith("a UvmObject 0x")
