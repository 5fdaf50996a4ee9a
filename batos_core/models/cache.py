"""Where pulled and converted models live, and what is there.

Layout under ``model_dir()`` (``BATOS_MODEL_DIR``, else the user cache dir
``batos/models``)::

    <name>.gguf            a pulled GGUF, renamed into place only once verified
    <name>.gguf.sha256     its verified checksum (so a cached check is cheap)
    <name>.hub             for hub snapshots: the snapshot directory
    converted/<sha16>/     a GGUF de-quantized once into safetensors

Importing this module imports neither torch nor transformers nor the hub
client: the CLI lists and resolves models through it.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from batos_core.models.catalog import CATALOG, ModelEntry, UnknownModel, get_entry

MODEL_DIR_ENV = "BATOS_MODEL_DIR"
_CHUNK = 1 << 20


class ModelNotPulled(LookupError):
    """A catalog model was asked for but is not in the cache yet."""

    def __init__(self, name: str) -> None:
        super().__init__(f"model {name!r} is not pulled yet: run `batos model pull {name}`")
        self.name = name


@dataclass(frozen=True)
class ModelStatus:
    """One catalog model as the cache sees it."""

    name: str
    size: int
    cached: bool
    path: Path | None
    default: str | None
    description: str


def model_dir() -> Path:
    """The model cache directory (not created here)."""
    override = os.environ.get(MODEL_DIR_ENV)
    if override:
        return Path(override).expanduser()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("batos")) / "models"


def converted_dir(sha256: str) -> Path:
    """Where the safetensors conversion of the GGUF with this checksum goes."""
    return model_dir() / "converted" / sha256[:16]


def file_sha256(path: Path, progress: Callable[[int], None] | None = None) -> str:
    """SHA-256 of a file, read in 1 MiB chunks; ``progress`` gets bytes read so far."""
    digest = hashlib.sha256()
    done = 0
    with path.open("rb") as stream:
        while chunk := stream.read(_CHUNK):
            digest.update(chunk)
            done += len(chunk)
            if progress is not None:
                progress(done)
    return digest.hexdigest()


def cached_path(entry: ModelEntry) -> Path | None:
    """The usable local path of ``entry``, or None if it is not (completely) pulled.

    A GGUF counts as cached when its checksum record matches the catalog's
    SHA-256 and the file's size; the checksum was computed when it was
    pulled, so this check does not re-read the file.
    """
    if entry.filename is None:
        marker = model_dir() / f"{entry.name}.hub"
        if not marker.is_file():
            return None
        snapshot = Path(marker.read_text(encoding="utf-8").strip())
        return snapshot if snapshot.is_dir() else None
    path = model_dir() / entry.filename
    record = path.with_name(path.name + ".sha256")
    try:
        recorded = record.read_text(encoding="utf-8").split()
        size = path.stat().st_size
    except OSError:
        return None
    if recorded[:2] != [entry.sha256, str(size)]:
        return None
    return path


def record_verified(path: Path, sha256: str) -> None:
    """Write the checksum record that makes ``cached_path`` accept ``path``."""
    record = path.with_name(path.name + ".sha256")
    tmp = record.with_name(record.name + ".part")
    tmp.write_text(f"{sha256} {path.stat().st_size}\n", encoding="utf-8")
    os.replace(tmp, record)


def list_models() -> list[ModelStatus]:
    """Every catalog model with its cache status."""
    return [info(entry.name) for entry in CATALOG]


def info(name: str) -> ModelStatus:
    """Cache status of the catalog model ``name``; raises ``UnknownModel``."""
    entry = get_entry(name)
    path = cached_path(entry)
    return ModelStatus(entry.name, entry.size, path is not None, path, entry.default_for, entry.description)


def resolve_model(name_or_path: str) -> str:
    """What the transformers backend should load for ``name_or_path``.

    * an existing file or directory: itself;
    * a catalog name: the cached GGUF, or for a hub-only entry its pulled
      snapshot or else its hub id (Transformers then fetches it itself);
    * anything else containing ``/``: taken as a hub id.

    Raises ``ModelNotPulled`` for a catalog GGUF not pulled yet and
    ``UnknownModel`` for anything else.
    """
    path = Path(name_or_path).expanduser()
    if path.exists():
        return str(path)
    try:
        entry = get_entry(name_or_path)
    except UnknownModel:
        if "/" in name_or_path and not name_or_path.startswith((".", "/", "~")):
            return name_or_path
        raise
    cached = cached_path(entry)
    if cached is not None:
        return str(cached)
    if entry.hub_repo is not None:
        return entry.hub_repo
    raise ModelNotPulled(entry.name)


def gguf_quantization(name_or_path: str) -> str:
    """The quantization (``Q4_K_M``...) of the GGUF ``name_or_path`` resolves to,
    read from its header; ``""`` for a model that is not a readable GGUF here
    (not pulled, a hub snapshot, a bad file: loading it says why)."""
    from batos_core.models.gguf_header import BadGGUFFile, read_header

    try:
        location = resolve_model(name_or_path)
    except LookupError:
        return ""
    if not Path(location).is_file():
        return ""
    try:
        return read_header(location).quantization
    except BadGGUFFile:
        return ""
