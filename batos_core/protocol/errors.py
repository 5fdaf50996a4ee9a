"""Typed errors of the protocol layer (standard library only).

Every rejection of an incoming message is a :class:`WireError` subclass with a
short ``reason`` meant for logs; none of them carries secret material.
"""

from __future__ import annotations

from pathlib import Path


class ProtocolError(Exception):
    """Base class of every error raised by ``batos_core.protocol``."""


class WireError(ProtocolError):
    """An incoming multipart message was rejected; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class BadFrameCount(WireError):
    """The message does not have exactly the expected number of frames."""


class FrameTooLarge(WireError):
    """A frame exceeds the configured size cap (checked before decoding)."""


class BadMagic(WireError):
    """The first frame is not this protocol's magic (wrong protocol or version)."""


class BadSignature(WireError):
    """The HMAC signature is malformed or does not match envelope + body."""


class MalformedEnvelope(WireError):
    """The (correctly signed) envelope is not a valid envelope map."""


class Replayed(WireError):
    """The envelope's counter is not above the highest seen for its session."""


class Stale(WireError):
    """The envelope's timestamp is outside the accepted freshness window."""


class MalformedBody(WireError):
    """The (correctly signed) body is not a msgpack map with a string ``type``."""


class VersionMismatch(ProtocolError):
    """A daemon announces a protocol version this code does not speak."""

    def __init__(self, source: str, found: int, expected: int) -> None:
        super().__init__(f"{source}: daemon speaks protocol version {found}, this client speaks {expected}")
        self.source = source
        self.found = found
        self.expected = expected


class InsecurePermissions(ProtocolError):
    """A runtime directory or connection file is readable by others or not ours."""

    def __init__(self, path: Path, mode: int, problem: str) -> None:
        super().__init__(f"{path} (mode {mode:04o}): {problem}")
        self.path = path
        self.mode = mode
        self.problem = problem


class ConnectionFileError(ProtocolError):
    """A connection file exists but cannot be parsed or lacks a field."""

    def __init__(self, path: Path, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem


class DaemonUnavailable(ProtocolError):
    """No valid reply arrived after all Lazy Pirate attempts."""

    def __init__(self, endpoint: str, request_id: str, attempts: int, timeout: float) -> None:
        super().__init__(
            f"no reply from {endpoint} to request {request_id} after {attempts} attempt(s) of {timeout:g} s"
        )
        self.endpoint = endpoint
        self.request_id = request_id
        self.attempts = attempts
        self.timeout = timeout


class RemoteError(ProtocolError):
    """The daemon answered with an ``error_reply``; raised by :func:`raise_for_error`."""

    def __init__(self, request_id: str, name: str, message: str, code: str, traceback: str) -> None:
        super().__init__(f"{name}: {message} [{code}]")
        self.request_id = request_id
        self.name = name
        self.message = message
        self.code = code
        self.traceback = traceback
