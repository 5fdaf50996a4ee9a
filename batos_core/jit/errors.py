"""Errors of the model-independent JIT stages (extraction, vetting, trial).

Every error carries a one-line, model-facing reason: the repair loop quotes it
back to the model, so it says what was wrong and what to write instead, and it
never contains an expected value.
"""

from __future__ import annotations


class JitError(Exception):
    """Base class of the JIT's own errors."""


class ExtractionError(JitError):
    """The model's reply held no usable code.

    ``reason`` is one line, suitable for a repair prompt.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class VetError(JitError):
    """Generated source broke a vetting rule.

    ``reason`` is one line without the line number; ``lineno`` is the line of
    the generated source it refers to (1-based; 0 when it concerns the whole
    source). ``str(error)`` is ``"line N: reason"``.
    """

    def __init__(self, reason: str, lineno: int = 0) -> None:
        self.reason = reason
        self.lineno = lineno
        super().__init__(f"line {lineno}: {reason}" if lineno else reason)


class TrialSetupError(JitError):
    """The trial subprocess could not be started or its report not read.

    This is a fault of the host (missing interpreter, no temp space), not of the
    generated method, so callers must not feed it back to the model.
    """
