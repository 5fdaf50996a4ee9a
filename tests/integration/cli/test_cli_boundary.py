"""The CLI never loads the daemon's or the model's libraries, even while talking to a daemon.

A fresh interpreter imports the CLI, prints help and sends a message to a
running daemon, then reports what it loaded. pydantic is a special case:
typer (>= 0.2x) imports it for parameter coercion. batos' own pydantic models
must stay out, and whoever imports pydantic first must be typer, not batos.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

FORBIDDEN = (
    "ZODB", "persistent", "transaction", "BTrees", "torch", "transformers", "kivy",
    "llama_cpp", "numpy", "gguf",
)  # fmt: skip

PROBE = r"""
import builtins, io, json, sys, traceback

first_pydantic_importer = []
_import = builtins.__import__

def _tracking_import(name, globals=None, locals=None, fromlist=(), level=0):
    if name.split(".")[0] == "pydantic" and "pydantic" not in sys.modules and not first_pydantic_importer:
        frames = [f for f in traceback.extract_stack()[:-1] if "importlib" not in f.filename]
        first_pydantic_importer.append(frames[-1].filename)
    return _import(name, globals, locals, fromlist, level)

builtins.__import__ = _tracking_import

import batos_cli.main
import batos_cli.app
from batos_cli import env as env_module
out = io.StringIO()
env_module.use(env_module.Environment(stdout=out, stderr=io.StringIO()))
help_code = batos_cli.main.main(["--help"])
send_code = batos_cli.main.main(["send", "genesis", "printString"])
print(json.dumps({
    "help": help_code,
    "send": send_code,
    "output": out.getvalue(),
    "modules": sorted(sys.modules),
    "pydantic_importer": first_pydantic_importer,
}))
"""


def test_cli_loads_no_daemon_or_model_library(module_daemon: Any) -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE],
        env=module_daemon.dirs.env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.splitlines()[-1])
    assert (report["help"], report["send"]) == (0, 0), report["output"]
    assert "a UvmObject 0x" in report["output"]
    modules = set(report["modules"])
    loaded = sorted(m for m in modules if m.split(".")[0] in FORBIDDEN)
    assert loaded == []
    # batos' own pydantic models (the daemon's side of the protocol) stay out.
    assert not [m for m in modules if m.startswith("batos_core.protocol.messages")]
    # The CLI reads where files are (places) and a daemon's settings (daemon_config),
    # nothing that runs a daemon.
    daemon_side = ("batos_core.daemon", "batos_core.image", "batos_core.objects", "batos_core.jit")
    assert not [m for m in modules if any(m == p or m.startswith(p + ".") for p in daemon_side)]
    if "pydantic" in modules:
        importer = report["pydantic_importer"]
        assert importer and "/typer/" in importer[0], importer


MODEL_PROBE = r"""
import io, json, sys
import batos_cli.main
from batos_cli import env as env_module
out = io.StringIO()
env_module.use(env_module.Environment(stdout=out, stderr=io.StringIO()))
codes = [
    batos_cli.main.main(["model", "info", "smollm2-135m-instruct"]),
    batos_cli.main.main(["daemon", "status", "--json"]),
]
print(json.dumps({"codes": codes, "output": out.getvalue(), "modules": sorted(sys.modules)}))
"""


def test_model_info_and_status_say_what_serves_without_loading_it(
    module_daemon: Any, smollm_gguf: Any
) -> None:
    env = {**module_daemon.dirs.env(), "BATOS_MODEL_DIR": str(smollm_gguf.parent)}
    done = subprocess.run(
        [sys.executable, "-c", MODEL_PROBE], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.splitlines()[-1])
    assert report["codes"] == [0, 0], report["output"]
    assert "served by llama.cpp (llama-cpp-python 0.3." in report["output"] and "Q4_1" in report["output"]
    status = json.loads(report["output"][report["output"].index("{") :])
    assert status["running"] and status["engine"] == "" and status["quantization"] == ""  # --backend none
    loaded = sorted(m for m in report["modules"] if m.split(".")[0] in FORBIDDEN)
    assert loaded == []
