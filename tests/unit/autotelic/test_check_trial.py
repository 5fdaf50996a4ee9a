"""An act's check runs in the sandboxed trial subprocess, after (or instead of) the plain call."""

from __future__ import annotations

from batos_core.autotelic.proposal import check_source
from batos_core.jit.snapshot import ReceiverSnapshot
from batos_core.jit.trial import TrialPolicy, run_trial
from batos_core.jit.vet import vet

ACCOUNT = ReceiverSnapshot(name="account", data_slots={"balance": 21})
FAST = TrialPolicy(wall_seconds=5.0, cpu_seconds=3)
DOUBLED = vet("def doubled(self):\n    return 2 * self.balance\n", "doubled")
WRONG = vet("def doubled(self):\n    return self.balance + 1\n", "doubled")
DEPOSIT = vet("def deposit(self):\n    self.balance = self.balance + 1\n    return self.balance\n", "deposit")


def test_a_true_check_passes() -> None:
    check = check_source("self.doubled() == 2 * self.balance", "doubled")
    result = run_trial(DOUBLED, ACCOUNT, (), FAST, check=check, call=False)
    assert result.ok, result
    assert result.value_repr == "True"


def test_a_false_check_fails_as_check_failed() -> None:
    check = check_source("self.doubled() == 2 * self.balance", "doubled")
    result = run_trial(WRONG, ACCOUNT, (), FAST, check=check, call=False)
    assert not result.ok
    assert result.error_name == "CheckFailed"
    assert "42" not in (result.error_message or "")  # never an expected value


def test_a_raising_check_reports_its_error_and_line() -> None:
    check = check_source("self.doubled() == 2 * self.missing", "doubled")
    result = run_trial(DOUBLED, ACCOUNT, (), FAST, check=check, call=False)
    assert not result.ok and result.error_name == "AttributeError"
    assert "<batos check>" in (result.traceback or "")


def test_the_check_sees_the_state_the_call_left() -> None:
    check = check_source("self.balance == 22 and self.deposit() == 23", "deposit")
    assert run_trial(DEPOSIT, ACCOUNT, (), FAST, check=check, call=True).ok
    assert not run_trial(DEPOSIT, ACCOUNT, (), FAST, check=check, call=False).ok


def test_without_a_check_the_trial_is_unchanged() -> None:
    result = run_trial(WRONG, ACCOUNT, (), FAST)
    assert result.ok and result.value_repr == "22"
