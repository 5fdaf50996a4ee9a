"""The audit hook, the second wall: it refuses the operation itself, however reached.

Each test runs a script in a fresh interpreter (an audit hook cannot be
removed, so it must not be installed in the test process). The scripts give
restricted code a deliberately leaky global, a plain Python function that
opens files or runs a process, as a hole in the first wall would: only the
hook stands between the method and the operation.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

PRELUDE = """
import logging, os, sys
from batos_core.objects.namespace import restricted_namespace
from batos_core.sandbox import audit
from batos_core.sandbox.compiler import compile_restricted_method
from batos_core.sandbox.guards import SandboxViolation

namespace = restricted_namespace()
audit.install()

def leaky_open(path):
    return open(path).read()

def leaky_shell(command):
    return os.system(command)

def leaky_import(name):
    return __import__(name)

def leaky_compile(text):
    return compile(text, "x", "eval")

def leaky_frame(depth=2):
    return sys._getframe(depth)

def restricted(source, name="m"):
    globals_ = namespace.globals_for(dict(
        leaky_open=leaky_open, leaky_shell=leaky_shell, leaky_import=leaky_import,
        leaky_compile=leaky_compile, leaky_frame=leaky_frame, log=logging.getLogger("t").warning,
    ))
    exec(compile_restricted_method(source, f"<method {name}>"), globals_)
    return globals_[name]

def outcome(fn, *args):
    try:
        fn(*args)
    except SandboxViolation as error:
        return "blocked: " + str(error)
    return "ran"
"""


def run_script(body: str, tmp_path: Path) -> str:
    script = tmp_path / "script.py"
    script.write_text(PRELUDE + textwrap.dedent(body))
    done = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        env={"PYTHONPATH": str(Path(__file__).resolve().parents[3]), "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_operations_reached_through_a_hole_are_refused_while_a_method_runs(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    out = run_script(
        f"""
        m = restricted("def m(x):\\n    return x()\\n")
        print(outcome(m, lambda: leaky_open("/etc/hostname")))
        print(outcome(m, lambda: leaky_shell("touch {marker}")))
        print(outcome(m, lambda: leaky_import("wave")))
        print(outcome(m, lambda: leaky_compile("1")))
        print(outcome(m, lambda: leaky_frame()))
        """,
        tmp_path,
    )
    lines = out.splitlines()
    assert [line.split(":")[0] for line in lines] == ["blocked"] * 5, out
    assert "open is not allowed while a method runs (method m, line 2)" in lines[0]
    assert "os.system" in lines[1] and "import" in lines[2] and "compile" in lines[3]
    assert not marker.exists()


def test_the_same_operations_outside_a_method_are_untouched(tmp_path: Path) -> None:
    out = run_script(
        """
        print(outcome(leaky_open, "/etc/hostname"))
        print(outcome(leaky_compile, "1"))
        print(outcome(leaky_import, "colorsys"))
        print(outcome(leaky_frame, 1))
        """,
        tmp_path,
    )
    assert out.split() == ["ran"] * 4


def test_a_function_a_method_defined_is_watched_when_the_daemon_calls_it_later(tmp_path: Path) -> None:
    # The method returns a closure; trusted code calls it after the method returned.
    out = run_script(
        """
        m = restricted("def m(x):\\n    return lambda: x('/etc/hostname')\\n")
        later = m(leaky_open)
        print(outcome(later))
        """,
        tmp_path,
    )
    assert out.startswith("blocked: open is not allowed"), out


def test_logging_from_inside_a_method_still_works(tmp_path: Path) -> None:
    out = run_script(
        """
        logging.basicConfig(stream=sys.stdout, format="%(funcName)s %(message)s")
        m = restricted("def m(x):\\n    log('hello from a method')\\n    return 1\\n")
        print(outcome(m, None))
        """,
        tmp_path,
    )
    assert "hello from a method" in out and out.strip().endswith("ran"), out


def test_compiling_a_method_from_inside_a_method_is_allowed_and_its_code_is_watched(tmp_path: Path) -> None:
    out = run_script(
        """
        from batos_core.objects import Method, UvmObject
        inner = Method("inner", "def inner(self):\\n    return 7\\n")
        caller = Method("caller", "def caller(self):\\n    return self.inner()\\n")
        obj = UvmObject(inner=inner, caller=caller)
        print(obj.caller())
        """,
        tmp_path,
    )
    assert out.strip() == "7"
