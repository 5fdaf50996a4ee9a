"""Exit statuses, and the one function that maps exceptions to them."""

from __future__ import annotations

from enum import IntEnum


class ExitStatus(IntEnum):
    """Process exit codes of `batos` (stable; scripts may rely on them)."""

    OK = 0
    ERROR = 1  # an unexpected failure (a bug, or an error the daemon could not classify)
    USAGE = 2  # bad command line (typer/click's own code)
    DAEMON_UNAVAILABLE = 3  # no daemon answered, or it could not be started
    NOT_UNDERSTOOD = 4  # the message was not understood and no method was generated
    METHOD_FAILED = 5  # the method ran and raised
    BAD_INPUT = 6  # a bad reference, slot name, argument or source
    NOT_FOUND = 7  # the object, method or version does not exist
    GENERATION_FAILED = 8  # the model could not write an acceptable method
    CONFLICT = 9  # the transaction kept conflicting
    IMAGE_DAMAGED = 10  # the image file is damaged (`batos image check`; `batos image recover` repairs)
    IMAGE_IN_USE = 11  # a daemon serves the image, and the command needs it stopped
    METHOD_SUSPENDED = 12  # the method is suspended (it wedged the daemon): `batos methods resume`
    INTERRUPTED = 130  # Ctrl-C


class CliError(Exception):
    """An error the CLI reports as one line (no traceback) with a given exit status."""

    def __init__(self, message: str, status: ExitStatus = ExitStatus.ERROR, hint: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.hint = hint


_CODE_STATUS = {
    "slot_not_found": ExitStatus.NOT_UNDERSTOOD,
    "user_error": ExitStatus.METHOD_FAILED,
    "bad_request": ExitStatus.BAD_INPUT,
    "syntax_error": ExitStatus.BAD_INPUT,
    "vetting_failed": ExitStatus.GENERATION_FAILED,
    "generation_failed": ExitStatus.GENERATION_FAILED,
    "object_not_found": ExitStatus.NOT_FOUND,
    "method_not_found": ExitStatus.NOT_FOUND,
    "method_suspended": ExitStatus.METHOD_SUSPENDED,
    "conflict": ExitStatus.CONFLICT,
    "storage_unavailable": ExitStatus.DAEMON_UNAVAILABLE,
    "timeout": ExitStatus.DAEMON_UNAVAILABLE,
    "shutting_down": ExitStatus.DAEMON_UNAVAILABLE,
    "cancelled": ExitStatus.INTERRUPTED,  # a cancel_request (this client's Ctrl-C, or another's)
}


#: The statuses `python -m batos_core.image_tool` reports (`batos image check | recover`).
_IMAGE_TOOL_STATUS = {
    "ok": ExitStatus.OK,
    "recovered": ExitStatus.OK,
    "packed": ExitStatus.OK,
    "unreachable": ExitStatus.DAEMON_UNAVAILABLE,
    "damaged": ExitStatus.IMAGE_DAMAGED,
    "in_use": ExitStatus.IMAGE_IN_USE,
    "not_an_image": ExitStatus.BAD_INPUT,
}


def image_tool_status(status: str) -> ExitStatus:
    """The exit status for a status word of the image tool (unknown words: ERROR)."""
    return _IMAGE_TOOL_STATUS.get(status, ExitStatus.ERROR)


def exit_status_for(exc: BaseException) -> ExitStatus:
    """The single place that decides which exit status an exception means."""
    from batos_core.protocol.errors import (
        ConnectionFileError,
        DaemonUnavailable,
        InsecurePermissions,
        RemoteError,
        VersionMismatch,
    )

    if isinstance(exc, CliError):
        return exc.status
    if isinstance(exc, KeyboardInterrupt):
        return ExitStatus.INTERRUPTED
    if isinstance(exc, RemoteError):
        return _CODE_STATUS.get(exc.code, ExitStatus.ERROR)
    if isinstance(exc, (DaemonUnavailable, ConnectionFileError, VersionMismatch)):
        return ExitStatus.DAEMON_UNAVAILABLE
    if isinstance(exc, InsecurePermissions):
        return ExitStatus.BAD_INPUT
    return ExitStatus.ERROR
