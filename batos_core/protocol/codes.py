"""Machine-readable error codes carried by ``error_reply.code`` (stdlib only)."""

from enum import StrEnum


class ErrorCode(StrEnum):
    """Known error codes. The wire type is a plain string so that a newer daemon
    may send a code an older client does not know; clients treat unknown codes
    like ``internal``."""

    BAD_REQUEST = "bad_request"  # the body failed validation
    UNKNOWN_TYPE = "unknown_type"  # a well-formed message of a type the daemon does not handle
    OBJECT_NOT_FOUND = "object_not_found"  # a reference resolves to nothing
    SLOT_NOT_FOUND = "slot_not_found"  # a selector is not understood and no method was generated
    METHOD_NOT_FOUND = "method_not_found"  # no such selector/version (history, source, revert)
    METHOD_SUSPENDED = "method_suspended"  # the method is suspended (it wedged the daemon); resume it first
    SYNTAX_ERROR = "syntax_error"  # eval/create_method source does not parse
    VETTING_FAILED = "vetting_failed"  # generated or submitted code was refused
    GENERATION_FAILED = "generation_failed"  # the LLM gave no usable method
    CONFLICT = "conflict"  # the transaction kept conflicting; retrying may help
    # The daemon lost its storage server (ZEO, PostgreSQL) and is reconnecting; retry the same id.
    STORAGE_UNAVAILABLE = "storage_unavailable"
    TIMEOUT = "timeout"  # the daemon gave up on the request
    SHUTTING_DOWN = "shutting_down"  # the daemon is draining; retry after it restarts
    CANCELLED = "cancelled"  # a cancel_request stopped it before it ran or while a method was generated
    REPLY_TOO_LARGE = "reply_too_large"  # the reply would exceed the frame cap
    USER_ERROR = "user_error"  # the invoked method raised; name/message say what
    INTERNAL = "internal"  # a bug in the daemon
