"""Typed errors for opening and addressing an image."""

from __future__ import annotations


class ImageError(Exception):
    """Base class: the image could not be opened or used. The message is one line."""


class UnknownStorageScheme(ImageError):
    """A URI whose scheme batos does not know."""


class ImageLocked(ImageError):
    """Another process holds the FileStorage lock (a daemon already runs on it)."""


class StorageUnreachable(ImageError):
    """The storage server (ZEO, PostgreSQL) named by the URI does not answer; nothing was written."""


class StorageRefused(ImageError):
    """The storage server answered but refused: a wrong password, a missing database or schema."""


class NotAnImage(ImageError):
    """The path exists but is not a ZODB FileStorage."""


class ImageDamaged(ImageError):
    """The FileStorage is damaged (cut short, empty, or its index disagrees); nothing was written."""


class ImageFormatTooNew(ImageError):
    """The image was written by a newer batos than this one."""


class BadReference(ImageError, ValueError):
    """An object reference that is neither an oid nor a lobby name."""


class ObjectNotFound(ImageError, LookupError):
    """A well-formed reference that names no object in this image."""
