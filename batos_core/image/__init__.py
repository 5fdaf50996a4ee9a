"""The live image: storage URIs, bootstrap, metadata, migrations, references."""

from batos_core.image.errors import (
    BadReference,
    ImageDamaged,
    ImageError,
    ImageFormatTooNew,
    ImageLocked,
    NotAnImage,
    ObjectNotFound,
    StorageRefused,
    StorageUnreachable,
    UnknownStorageScheme,
)
from batos_core.image.image import Image, Session, open_image
from batos_core.image.refs import Ref, parse_ref

__all__ = [
    "BadReference",
    "Image",
    "ImageDamaged",
    "ImageError",
    "ImageFormatTooNew",
    "ImageLocked",
    "NotAnImage",
    "ObjectNotFound",
    "Ref",
    "Session",
    "StorageRefused",
    "StorageUnreachable",
    "UnknownStorageScheme",
    "open_image",
    "parse_ref",
]
