"""Budgets: at most N acts per hour and M model tokens per day, read from the act records.

Reading the record (not a counter in memory) makes budgets survive daemon
restarts and upgrades. Times come from the same injectable clock as the
heartbeat's.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

HOUR_S = 3600.0
DAY_S = 86400.0


@dataclass(frozen=True)
class BudgetStatus:
    """What is spent in the current windows, and whether another act may start."""

    acts_last_hour: int
    tokens_last_day: int
    max_acts_per_hour: int
    max_tokens_per_day: int

    @property
    def exhausted(self) -> str:
        """Why no act may start now, or ``""``."""
        if self.acts_last_hour >= self.max_acts_per_hour:
            return f"act budget spent: {self.acts_last_hour} of {self.max_acts_per_hour} acts this hour"
        if self.tokens_last_day >= self.max_tokens_per_day:
            return f"token budget spent: {self.tokens_last_day} of {self.max_tokens_per_day} tokens today"
        return ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "acts_last_hour": self.acts_last_hour,
            "tokens_last_day": self.tokens_last_day,
            "max_acts_per_hour": self.max_acts_per_hour,
            "max_tokens_per_day": self.max_tokens_per_day,
            "exhausted": self.exhausted,
        }


def budget_status(
    acts_newest_first: Iterable[dict[str, Any]], now: float, max_acts_per_hour: int, max_tokens_per_day: int
) -> BudgetStatus:
    """Count acts started in the last hour and tokens spent by acts started in the last day.

    `acts_newest_first` may be long: iteration stops at the first act older
    than a day. An act that is still running counts (its tokens so far are
    whatever its record holds).
    """
    acts = tokens = 0
    for record in acts_newest_first:
        started = float(record.get("started", 0.0))
        if started < now - DAY_S:
            break
        tokens += int(record.get("tokens", 0) or 0)
        if started >= now - HOUR_S:
            acts += 1
    return BudgetStatus(acts, tokens, max_acts_per_hour, max_tokens_per_day)
