"""Prompts state the exact header, demand a result, and carry no pasteable code."""

from __future__ import annotations

import re

import pytest

from batos_core.jit.errors import ExtractionError, VetError
from batos_core.jit.prompt import (
    describe_failure,
    method_messages,
    prompt_hash,
    repair_messages,
    ui_messages,
)
from batos_core.jit.snapshot import ReceiverSnapshot
from batos_core.jit.trial import TrialResult
from batos_core.jit.vet import VetPolicy

ACCOUNT = ReceiverSnapshot(
    name="account",
    data_slots={"balance": 100, "owner": "Ann", "history": [1, 2, 3]},
    parent_slots={"parent*": "traits (the shared behaviour)"},
    methods={"clone": "", "printString": "", "deposit_": "def deposit_(self, deposit): ..."},
)


def text_of(messages: list[dict[str, str]]) -> str:
    return "\n".join(m["content"] for m in messages)


def test_messages_are_a_system_and_a_user_turn() -> None:
    messages = method_messages("sumOf:", ACCOUNT, [[1, 2, 3]])
    assert [m["role"] for m in messages] == ["system", "user"]
    assert all(set(m) == {"role", "content"} for m in messages)


def test_the_exact_header_with_argument_types_and_values() -> None:
    user = method_messages("gcd:with:", ACCOUNT, [12, "18"])[1]["content"]
    # The first and connective parameters are named by type (docs/jit.md: names
    # like gcd or reversed_ made the 0.5B model return them unchanged).
    assert "def gcd_with_(self, n, text):" in user
    assert "- n: a int, for example 12" in user
    assert "- text: a str, for example '18'" in user
    clamp = method_messages("clamp:min:max:", ACCOUNT, [15, 0, 10])[1]["content"]
    assert "def clamp_min_max_(self, n, min_, max_):" in clamp
    assert "gcd:with:" in user
    # A recursive method calls itself on self (a bare call passes the argument as self).
    assert "call it as a method of self, never as a plain function" in user


def test_return_rule_computations_return_values_and_only_commands_return_self() -> None:
    system = method_messages("greet:", ACCOUNT, ["Bob"])[0]["content"]
    assert "must return its result" in system
    assert "Never print the result" in system
    # docs/jit.md: "an action returns self" alone made pure computations return self.
    assert "names something to compute" in system
    assert "Only a message that tells the receiver to change its own slots" in system
    # No list of example verbs: the 0.5B turned "setting, removing, resetting"
    # into a dispatch on those words (docs/jit.md).
    assert "resetting" not in system
    assert "returns self" in system


def test_receiver_slots_kinds_values_and_inherited_methods_are_listed() -> None:
    user = method_messages("withdraw:", ACCOUNT, [5])[1]["content"]
    assert "- balance: data slot, a int, now 100" in user
    assert "- owner: data slot, a str, now 'Ann'" in user
    assert "- parent*: parent slot, traits (the shared behaviour)" in user
    assert "clone, deposit_, printString" in user


def test_allowed_imports_and_reserved_names_are_stated() -> None:
    system = method_messages("f", ACCOUNT)[0]["content"]
    assert "math, operator, random, re, statistics, string" in system
    assert "starts with an underscore" in system and "_p_changed" in system
    narrow = method_messages("f", ACCOUNT, policy=VetPolicy(allowed_imports=frozenset({"math"})))
    assert "only these modules, inside the function: math." in narrow[0]["content"]


def test_prompt_holds_no_code_but_the_header() -> None:
    text = text_of(method_messages("sumOf:", ReceiverSnapshot(), [[1, 2]]))
    assert "```" not in text
    assert not re.search(r"\bf['\"]", text), "no f-string examples"
    assert not re.search(r"self\.\w", text) and "print(" not in text
    code_lines = [line for line in text.splitlines() if line.startswith("def ")]
    assert code_lines == ["def sumOf_(self, items):"]


def test_intent_and_unknown_arguments() -> None:
    user = method_messages("fib:", ACCOUNT, intent="  the n-th Fibonacci\n number ")[1]["content"]
    assert "- fib: value not known in advance" in user
    assert "What the method is meant to do: the n-th Fibonacci number" in user


def test_argument_count_must_match_the_selector() -> None:
    with pytest.raises(ValueError, match="takes 2 arguments, got 1"):
        method_messages("gcd:with:", ACCOUNT, [1])


def test_repair_appends_the_code_and_the_precise_vet_failure() -> None:
    base = method_messages("sumOf:", ACCOUNT, [[1, 2]])
    code = "def sumOf_(self, *args):\n    return sum(args)\n"
    failure = VetError(
        "*args is not allowed: sumOf: sends 1 argument; write exactly def sumOf_(self, sum_of):", 1
    )
    repaired = repair_messages(base, code, failure)
    assert repaired[:2] == base
    assert repaired[2] == {"role": "assistant", "content": f"```python\n{code.rstrip()}\n```"}
    assert "at line 1: *args is not allowed" in repaired[3]["content"]
    assert "different approach" not in repaired[3]["content"]
    assert "different approach" in repair_messages(base, code, failure, attempt=2)[3]["content"]


def test_repair_quotes_the_trial_traceback() -> None:
    trial = TrialResult(
        ok=False,
        value_repr=None,
        error_name="ZeroDivisionError",
        error_message="division by zero",
        traceback=(
            '  File "<batos avg>", line 3, in avg\n    return t / n\nZeroDivisionError: division by zero'
        ),
        duration_s=0.05,
    )
    text = describe_failure(trial)
    assert text.startswith("When run, it raised ZeroDivisionError: division by zero")
    assert "line 3, in avg" in text and "return t / n" in text


def test_repair_for_printing_says_to_return_without_quoting_output() -> None:
    trial = TrialResult(
        False, "None", "PrintedInsteadOfReturning", "printed 'Hello, Bob'", None, 0.1, stdout="Hello, Bob\n"
    )
    text = describe_failure(trial)
    assert "printed output and returned None" in text
    assert "Hello" not in text


def test_extraction_failure_is_described() -> None:
    assert "no code" in describe_failure(ExtractionError("the reply contained no code"))


def test_prompt_hash_is_canonical_sha256() -> None:
    messages = method_messages("sumOf:", ACCOUNT, [[1]])
    reordered = [{"content": m["content"], "role": m["role"]} for m in messages]
    assert re.fullmatch(r"[0-9a-f]{64}", prompt_hash(messages))
    assert prompt_hash(messages) == prompt_hash(reordered)
    assert prompt_hash(messages) != prompt_hash(method_messages("sumOf:", ACCOUNT, [[2]]))


def test_ui_prompt_names_the_app_the_title_and_the_bridge() -> None:
    messages = ui_messages(ACCOUNT, intent="show the balance")
    text = text_of(messages)
    assert "def display_yourself(self):" in text
    assert "BatOS_EntropicUI_App" in text and '"BAT OS Entropic UI"' in text
    for call in (
        "bridge.get_full_state(target, callback)",
        "bridge.send(text, callback)",
        "bridge.on_event(callback)",
    ):
        assert call in text
    assert "returns the class BatOS_EntropicUI_App itself" in text
    assert "kivy" in text and "```" not in text
