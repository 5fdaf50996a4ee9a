"""The intent suite: selectors a real model must write through a real daemon, with checks.

Each ``Intent`` is one message batos might receive (``factorial: 5``) with the
slots its receiver starts with and the checks its reply must pass. The first
case's send is the miss that makes the daemon generate the method; later cases
call the installed method again with other arguments (so a method that only
fits the trial's values fails), and ``after`` checks a slot the method was
meant to change.

``run_intent`` drives one intent through a daemon with a plain protocol
``Client`` (a fresh receiver per intent, so no method or slot of one intent
shows up in the next one's prompt) and reads what happened from the change
log. ``bench/bench_jit.py`` and ``test_intent_suite.py`` share it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from batos_core.protocol.builders import eval_request, history_request, send_request
from batos_core.protocol.client import Client
from batos_core.selectors import slot_name

#: The longest silence tolerated while a method is generated (heartbeats every 2 s).
GENERATION_TIMEOUT_S = 300.0

FIRST_TRY = "first try"
AFTER_REPAIR = "after repair"
WRONG_RESULT = "wrong result"
GENERATION_FAILED = "generation failed"
OTHER_ERROR = "error"


@dataclass(frozen=True)
class Case:
    """One send of the intent's selector: its arguments and what the reply must be."""

    args: tuple[Any, ...]
    accepts: Callable[[Any], bool]
    shows: str  # the expectation in words, for reports


def equals(args: tuple[Any, ...], expected: Any) -> Case:
    """A case whose reply must equal `expected` (numbers compare by value: 212.0 == 212)."""
    return Case(args, lambda value: _same(value, expected), f"== {expected!r}")


def contains(args: tuple[Any, ...], part: str) -> Case:
    """A case whose reply must be a string containing `part`."""
    return Case(args, lambda value: isinstance(value, str) and part in value, f"contains {part!r}")


def one_of(args: tuple[Any, ...], *allowed: Any) -> Case:
    """A case whose reply must equal one of `allowed`."""
    return Case(args, lambda value: any(_same(value, a) for a in allowed), f"in {list(allowed)!r}")


def _same(value: Any, expected: Any) -> bool:
    if isinstance(expected, bool) or isinstance(value, bool):
        return value is expected
    if isinstance(expected, (int, float)) and isinstance(value, (int, float)):
        return abs(value - expected) < 1e-9
    return bool(value == expected)


@dataclass(frozen=True)
class Intent:
    """A selector, the receiver's starting slots, its cases and an optional slot check."""

    selector: str  # Self form, e.g. "gcd:with:"
    cases: tuple[Case, ...]
    slots: dict[str, Any] = field(default_factory=dict)
    after: tuple[str, Any] | None = None  # (slot, value) after the first case

    @property
    def python_selector(self) -> str:
        return slot_name(self.selector)


INTENTS: tuple[Intent, ...] = (
    Intent("factorial:", (equals((5,), 120), equals((0,), 1))),
    Intent("reversed:", (equals(("abc",), "cba"), equals(("hello",), "olleh"))),
    Intent("sumOf:", (equals(([1, 2, 3],), 6), equals(([10, -4],), 6))),
    Intent("gcd:with:", (equals((12, 18), 6), equals((7, 5), 1))),
    Intent("isPrime:", (equals((7,), True), equals((9,), False), equals((2,), True))),
    Intent("fib:", (equals((10,), 55), equals((1,), 1))),
    Intent("max:", (equals(([3, 9, 2],), 9), equals(([-5, -2],), -2))),
    Intent("celsiusToFahrenheit:", (equals((100,), 212), equals((0,), 32))),
    Intent("deposit:", (Case((25,), lambda _: True, "any reply"),), {"balance": 100}, ("balance", 125)),
    Intent("withdraw:", (Case((30,), lambda _: True, "any reply"),), {"balance": 100}, ("balance", 70)),
    Intent("increment", (Case((), lambda _: True, "any reply"),), {"counter": 0}, ("counter", 1)),
    Intent("greet:", (contains(("Ada",), "Ada"), contains(("Bob",), "Bob"))),
    Intent("countVowels:", (equals(("banana",), 3), equals(("sky",), 0))),
    Intent("isPalindrome:", (equals(("racecar",), True), equals(("batos",), False))),
    Intent("squareOf:", (equals((7,), 49), equals((-3,), 9))),
    Intent("average:", (equals(([2, 4, 6],), 4), equals(([1, 2],), 1.5))),
    Intent("capitalize:", (one_of(("hello world",), "Hello world", "Hello World"),)),
    Intent("wordCount:", (equals(("the quick brown fox",), 4), equals(("one",), 1))),
    Intent("clamp:min:max:", (equals((15, 0, 10), 10), equals((-2, 0, 10), 0), equals((5, 0, 10), 5))),
    Intent("romanNumeral:", (equals((1994,), "MCMXCIV"), equals((4,), "IV"))),
    Intent("flatten:", (equals(([[1, 2], [3], [4, 5]],), [1, 2, 3, 4, 5]),)),
    Intent("uniqueSorted:", (equals(([3, 1, 3, 2, 1],), [1, 2, 3]),)),
    Intent("isEven:", (equals((4,), True), equals((7,), False))),
    Intent("absoluteValue:", (equals((-7,), 7), equals((3,), 3))),
    Intent("power:exponent:", (equals((2, 10), 1024), equals((3, 0), 1))),
    Intent("toUpper:", (equals(("abc",), "ABC"),)),
)


@dataclass
class IntentResult:
    """What one intent did: how it was generated and which checks passed."""

    selector: str
    status: str  # FIRST_TRY, AFTER_REPAIR, WRONG_RESULT, GENERATION_FAILED or OTHER_ERROR
    attempts: int = 0
    tokens: int = 0
    model_seconds: float = 0.0
    wall_seconds: float = 0.0  # client-side: miss sent -> reply received
    checks_passed: int = 0
    checks_total: int = 0
    detail: str = ""
    source: str = ""
    responds: bool = True  # whether the receiver understands the selector after the first send

    @property
    def passed(self) -> bool:
        return self.status in (FIRST_TRY, AFTER_REPAIR)


def receiver_name(index: int) -> str:
    """The lobby name of the intent's fresh receiver (neutral: the name is in the prompt)."""
    return f"obj{index}"


def run_intent(client: Client, intent: Intent, name: str) -> IntentResult:
    """Make receiver `name` (a genesis clone with the intent's slots), send every case, check.

    Never raises for a model's failure (that is a result); raises AssertionError
    when the daemon itself misbehaves (setting up the receiver fails).
    """
    _expect(client.request(eval_request(f"lobby setSlot: '{name}' value: (genesis clone)")), "eval_reply")
    for slot, value in intent.slots.items():
        _expect(client.request(send_request(name, "setSlot:value:", [slot, value])), "send_reply")
    total = len(intent.cases) + (1 if intent.after else 0)
    result = IntentResult(intent.selector, OTHER_ERROR, checks_total=total)
    failures: list[str] = []
    for index, case in enumerate(intent.cases):
        started = time.perf_counter()
        reply = client.request(
            send_request(name, intent.selector, list(case.args)),
            timeout=GENERATION_TIMEOUT_S if index == 0 else 30.0,
        )
        if index == 0:
            result.wall_seconds = time.perf_counter() - started
            _read_provenance(client, intent, name, result)
        if reply["type"] == "error_reply":
            if index == 0:
                code = reply.get("code", "")
                result.status = GENERATION_FAILED if code == "generation_failed" else OTHER_ERROR
                result.detail = f"{code}: {_one_line(reply.get('message', ''))}"
                understood = client.request(send_request(name, "respondsTo:", [intent.python_selector]))
                result.responds = _expect(understood, "send_reply")["result"] is True
                return result
            failures.append(f"{case.args!r}: {reply.get('code')}: {_one_line(reply.get('message', ''))}")
            continue
        value = reply.get("result")
        if case.accepts(value):
            result.checks_passed += 1
        else:
            failures.append(f"{case.args!r} -> {value!r}, expected {case.shows}")
    if intent.after is not None:
        slot, expected = intent.after
        reply = client.request(send_request(name, slot, []))
        value = reply.get("result") if reply["type"] == "send_reply" else reply.get("message")
        if reply["type"] == "send_reply" and _same(value, expected):
            result.checks_passed += 1
        else:
            failures.append(f"{slot} is {value!r}, expected {expected!r}")
    if failures:
        result.status = WRONG_RESULT
        result.detail = "; ".join(failures)
    else:
        result.status = FIRST_TRY if result.attempts <= 1 else AFTER_REPAIR
    return result


def _read_provenance(client: Client, intent: Intent, name: str, result: IntentResult) -> None:
    """Attempts, tokens, model time and source from the newest change-log record of the selector."""
    reply = client.request(history_request(name, intent.python_selector, 1, include_source=True))
    entries = reply.get("entries") or []
    if reply["type"] != "history_reply" or not entries:
        return
    entry = entries[0]
    provenance = entry.get("provenance") or {}
    result.attempts = int(provenance.get("attempts", 0) or 0)
    result.tokens = int(provenance.get("tokens", 0) or 0)
    result.model_seconds = float(provenance.get("model_seconds", 0.0) or 0.0)
    result.source = str(entry.get("source", ""))


def _expect(reply: dict[str, Any], kind: str) -> dict[str, Any]:
    assert reply["type"] == kind, reply
    return reply


def _one_line(text: str, limit: int = 160) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def summary_table(results: Sequence[IntentResult]) -> str:
    """A Markdown table of the results, one row per intent."""
    rows = [
        "| selector | outcome | attempts | checks | tokens | model s | wall s | detail |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        detail = r.detail.replace("|", "\\|")
        rows.append(
            f"| `{r.selector}` | {r.status} | {r.attempts} | {r.checks_passed}/{r.checks_total} "
            f"| {r.tokens} | {r.model_seconds:.1f} | {r.wall_seconds:.1f} | {detail} |"
        )
    return "\n".join(rows)


def pass_rate(results: Sequence[IntentResult]) -> tuple[int, int]:
    """(intents that passed every check, intents)."""
    return sum(1 for r in results if r.passed), len(results)
