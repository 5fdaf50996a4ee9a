"""Typed errors of serving a world (`zeo_server`). Each message is one line that names the fix."""

from __future__ import annotations


class StorageServerError(Exception):
    """Base class: the storage server could not be started, stopped or reached."""


class AddressInUse(StorageServerError):
    """The address to listen on is taken by another process."""


class AlreadyServed(StorageServerError):
    """A storage server started by batos already serves this image."""


class NotServed(StorageServerError):
    """No storage server started by batos serves this image."""


class ServerStartFailed(StorageServerError):
    """The server exited, or did not listen in time; the message quotes its log."""
