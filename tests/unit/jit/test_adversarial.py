"""A corpus of hostile or broken model replies: each is rejected or contained.

Every reply goes through the real stages (extract -> vet -> trial) the way
the pipeline will run them. Replies the vetter would stop are also run
unvetted through the trial, because the sandbox must hold on its own: first
through the trial's process wall alone (``contain``: unrestricted code, what
a ``display_yourself`` trial relies on), then through the restricted trial
every other method gets (``contain_restricted``), which refuses them earlier.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from batos_core.jit.errors import ExtractionError, VetError
from batos_core.jit.extract import extract_code
from batos_core.jit.signature import signature_for
from batos_core.jit.snapshot import ReceiverSnapshot
from batos_core.jit.trial import TrialPolicy, TrialResult, run_trial
from batos_core.jit.vet import VettedMethod, vet

POLICY = TrialPolicy(cpu_seconds=1, wall_seconds=2.0, memory_bytes=256 * 1024 * 1024, file_bytes=64 * 1024)
RECEIVER = ReceiverSnapshot(name="genesis", data_slots={"balance": 100})


@dataclass(frozen=True)
class Verdict:
    stage: str  # "extract", "vet", "trial" (failed) or "ok"
    message: str
    result: TrialResult | None = None


def judge(reply: str, selector: str, *args: object) -> Verdict:
    try:
        source = extract_code(reply, selector)
        method = vet(source, selector)
    except ExtractionError as error:
        return Verdict("extract", error.reason)
    except VetError as error:
        return Verdict("vet", str(error))
    result = run_trial(method, RECEIVER, args, POLICY)
    if result.ok:
        return Verdict("ok", result.value_repr or "", result)
    return Verdict("trial", f"{result.error_name}: {result.error_message}", result)


def contain(source: str, selector: str = "f") -> TrialResult:
    """Run source the vetter would refuse, straight in the trial, unrestricted:
    only the child's process wall (rlimits, its audit hook) stands in the way."""
    method = VettedMethod(selector, source, signature_for(selector), ())
    return run_trial(method, RECEIVER, (), replace(POLICY, restricted=False))


def contain_restricted(source: str, selector: str = "f") -> TrialResult:
    """Run source the vetter would refuse through the restricted trial (the default)."""
    method = VettedMethod(selector, source, signature_for(selector), ())
    return run_trial(method, RECEIVER, (), POLICY)


CORPUS = [
    pytest.param(
        "Sure! Here's the method you asked for:\n\n```python\ndef sumOf_(self, sum_of):\n"
        "    return sum(sum_of)\n```\n\nIt adds up the list.<|im_end|>",
        "sumOf_",
        ([1, 2, 3],),
        "ok",
        "6",
        id="fenced-with-chatter",
    ),
    pytest.param(
        "```python\ndef helper(x):\n    return x\n\ndef sumOf_(self, sum_of):\n    return sum(sum_of)\n```",
        "sumOf_",
        ([1],),
        "vet",
        "line 4: found 2 top-level functions (helper, sumOf_)",
        id="two-functions",
    ),
    pytest.param(
        "```python\ndef sum_of(self, numbers):\n    return sum(numbers)\n```",
        "sumOf_",
        ([1],),
        "vet",
        "named sum_of but must be named sumOf_",
        id="wrong-name",
    ),
    pytest.param(
        "```python\ndef f(self):\n    return ().__class__.__bases__[0].__subclasses__()\n```",
        "f",
        (),
        "vet",
        "line 2: attribute __subclasses__",
        id="subclasses-walk",
    ),
    pytest.param(
        "```python\ndef f(self):\n    import os; os.system('rm -rf ~')\n    return self\n```",
        "f",
        (),
        "vet",
        "line 2: import of os is not allowed",
        id="os-system",
    ),
    pytest.param(
        "```python\ndef f(self):\n    open('/tmp/x', 'w').write('pwned')\n    return self\n```",
        "f",
        (),
        "vet",
        "line 2: open is not allowed",
        id="open-for-write",
    ),
    pytest.param(
        "```python\ndef f(self):\n    n = 0\n    while True:\n        n += 1\n```",
        "f",
        (),
        "trial",
        "TimeoutError: the method",
        id="infinite-loop",
    ),
    pytest.param(
        "```python\ndef f(self):\n    return 'x' * 10**10\n```",
        "f",
        (),
        "trial",
        "MemoryError: the method ran out of memory",
        id="huge-string",
    ),
    pytest.param(
        "```python\ndef f(self):\n    return [0] * 10**9\n```",
        "f",
        (),
        "trial",
        "MemoryError",
        id="giant-list",
    ),
    pytest.param(
        "```python\ndef f(self):\n    return [1, 2\n```",
        "f",
        (),
        "vet",
        "syntax error",
        id="syntax-error",
    ),
    pytest.param(
        "```python\ndef f(self):\n    raise ValueError('no luck')\n```",
        "f",
        (),
        "trial",
        "ValueError: no luck",
        id="raises",
    ),
    pytest.param(
        "```python\ndef sumOf_(self, *args):\n    return sum(args[0])\n```",
        "sumOf_",
        ([1, 2],),
        "vet",
        "line 1: *args is not allowed: sumOf: sends 1 argument; write exactly def sumOf_(self, sum_of):",
        id="star-args",
    ),
    pytest.param(
        "```python\ndef greet_(self, greet):\n    print(f'Hello, {greet}!')\n```",
        "greet_",
        ("Ann",),
        "trial",
        "PrintedInsteadOfReturning: the method returned None and printed",
        id="prints-instead-of-returning",
    ),
    pytest.param(
        "```python\ndef f(self):\n    return self.f()\n```",
        "f",
        (),
        "trial",
        "RecursionError",
        id="unbounded-recursion",
    ),
    pytest.param(
        "I'm sorry, I can't write that.", "f", (), "extract", "no function definition", id="refusal"
    ),
]


@pytest.mark.parametrize(("reply", "selector", "args", "stage", "fragment"), CORPUS)
def test_corpus(reply: str, selector: str, args: tuple[object, ...], stage: str, fragment: str) -> None:
    verdict = judge(reply, selector, *args)
    assert (verdict.stage, fragment in verdict.message) == (stage, True), verdict


def test_the_printing_case_keeps_what_was_printed() -> None:
    verdict = judge("def greet_(self, greet):\n    print('Hello,', greet)\n", "greet_", "Ann")
    assert verdict.result is not None and verdict.result.printed_instead_of_returning
    assert verdict.result.stdout == "Hello, Ann\n"


def test_timeouts_point_at_the_looping_line() -> None:
    verdict = judge("def f(self):\n    n = 0\n    while True:\n        n += 1\n", "f")
    assert verdict.result is not None and verdict.result.traceback is not None
    assert (
        'File "<batos f>", line 4, in f' in verdict.result.traceback or "line 3" in verdict.result.traceback
    )


# The sandbox alone, for what vetting would have caught.


def test_os_system_is_blocked(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    result = contain(f"def f(self):\n    import os\n    return os.system('touch {marker}')\n")
    assert (result.ok, result.error_name) == (False, "SandboxViolation")
    assert "os.system" in (result.error_message or "")
    assert not marker.exists()


def test_writes_outside_the_temp_dir_are_blocked(tmp_path: Path) -> None:
    target = tmp_path / "x"
    result = contain(
        f"def f(self):\n    import io\n    io.open({str(target)!r}, 'w').write('pwned')\n    return 1\n"
    )
    assert result.error_name == "SandboxViolation" and "writing" in (result.error_message or "")
    assert not target.exists()


def test_plain_open_is_not_even_a_builtin() -> None:
    result = contain("def f(self):\n    return open('/tmp/batos-never', 'w')\n")
    assert (result.error_name, result.error_message) == ("NameError", "name 'open' is not defined")


@pytest.mark.parametrize(
    ("body", "event"),
    [
        ("import subprocess\n    return subprocess.run(['true'])", "subprocess.Popen"),
        ("import os\n    return os.fork()", "os.fork"),
        ("import os\n    return os.kill(os.getppid(), 9)", "os.kill"),
        ("import socket\n    return socket.create_connection(('127.0.0.1', 9))", "socket."),
        ("import ctypes\n    return ctypes.CDLL(None)", "ctypes."),
        ("import os\n    return os.remove('/etc/hostname')", "os.remove"),
    ],
)
def test_process_network_and_native_escapes_are_blocked(body: str, event: str) -> None:
    result = contain(f"def f(self):\n    {body}\n")
    assert result.error_name == "SandboxViolation", result
    assert event in (result.error_message or "")
    module = body.split()[1]
    restricted = contain_restricted(f"def f(self):\n    {body}\n")
    assert (restricted.error_name, restricted.error_message) == (
        "ImportError",
        f"import of {module} is not allowed in a method",
    )


def test_the_restricted_trial_reports_what_the_compiler_refuses() -> None:
    result = contain_restricted("def f(self):\n    return self._p_jar\n")
    assert result.error_name == "RestrictedCompileError"
    assert '"_p_jar" is an invalid attribute name' in (result.error_message or "")
    assert "(line 2)" in (result.error_message or "")


def test_a_swallowed_violation_still_fails_the_trial() -> None:
    source = (
        "def f(self):\n    import os\n    try:\n        os.system('true')\n"
        "    except Exception:\n        pass\n    return 1\n"
    )
    result = contain(source)
    assert (result.ok, result.error_name) == (False, "SandboxViolation")
    assert result.blocked == ("the trial sandbox blocks os.system",)


def test_a_method_ignoring_its_alarm_is_killed_by_the_parent() -> None:
    source = (
        "def f(self):\n    import signal, time\n"
        "    signal.signal(signal.SIGALRM, signal.SIG_IGN)\n    time.sleep(60)\n"
    )
    result = contain(source)
    assert (result.ok, result.error_name) == (False, "TimeoutError")
    assert "was killed" in (result.error_message or "")
    assert result.duration_s < POLICY.wall_seconds + 3


def test_file_size_is_limited_inside_the_temp_dir() -> None:
    source = "def f(self):\n    import io\n    io.open('big', 'w').write('x' * 10**6)\n    return 1\n"
    result = contain(source)
    assert (result.error_name, "File too large" in (result.error_message or "")) == ("OSError", True)


def test_flooding_stdout_is_clipped() -> None:
    result = contain("def f(self):\n    print('y' * 10**6)\n    return 1\n")
    assert result.ok and len(result.stdout) <= POLICY.max_output_chars


def test_the_parent_survives_the_whole_corpus() -> None:
    pid, cwd = os.getpid(), Path.cwd()
    for param in CORPUS:
        if param.id == "infinite-loop":
            continue  # covered above; only slow here
        reply, selector, args, _, _ = param.values
        assert isinstance(reply, str) and isinstance(selector, str) and isinstance(args, tuple)
        judge(reply, selector, *args)
    assert (os.getpid(), Path.cwd()) == (pid, cwd)
    assert judge("def f(self):\n    return self.balance\n", "f").message == "100"
