"""open_image: bootstrap, a reopen that writes nothing, storage URIs and one-line errors."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from batos_core.image import (
    Image,
    ImageError,
    ImageFormatTooNew,
    ImageLocked,
    NotAnImage,
    UnknownStorageScheme,
    open_image,
)
from batos_core.image.migrations import FORMAT_VERSION, MIGRATIONS
from batos_core.objects import Method, get_slot, parents, slot_names


def one_line(err: BaseException) -> str:
    text = str(err)
    assert text and "\n" not in text, f"not a one-line message: {text!r}"
    return text


def fingerprint(path: Path) -> tuple[int, str]:
    data = path.read_bytes()
    return len(data), hashlib.sha256(data).hexdigest()


def oid_of(obj: object) -> bytes:
    oid = getattr(obj, "_p_oid", None)
    assert isinstance(oid, bytes)
    return oid


def test_new_image_is_bootstrapped(image: Image) -> None:
    lobby, traits, genesis = image.lobby, image.traits, image.genesis
    assert parents(genesis) == [traits]
    assert parents(lobby) == [traits]
    assert get_slot(lobby, "lobby") is lobby
    assert {"traits", "genesis", "lobby"} <= set(slot_names(lobby))
    assert isinstance(get_slot(traits, "clone"), Method)
    assert genesis.respondsTo_("clone")
    meta = image.default_session.meta
    assert meta.format_version == FORMAT_VERSION
    assert [m["number"] for m in meta.migrations] == [n for n, _, _ in MIGRATIONS]


def test_reopen_loads_the_same_objects_and_writes_nothing(image_path: Path) -> None:
    with open_image(image_path) as img:
        oids = (oid_of(img.lobby), oid_of(img.traits), oid_of(img.genesis))
        last = img.db.lastTransaction()
    before = fingerprint(image_path)
    with open_image(image_path) as img:
        assert (oid_of(img.lobby), oid_of(img.traits), oid_of(img.genesis)) == oids
        assert img.db.lastTransaction() == last
        assert parents(img.genesis) == [img.traits]
        assert img.genesis.clone().respondsTo_("printString")  # used, not committed
    assert fingerprint(image_path) == before


def test_file_uri_and_path_open_the_same_image(image_path: Path) -> None:
    with open_image(image_path) as img:
        s = img.session()
        s.genesis.marker = "here"
        s.commit()
        s.close()
    with open_image(f"file://{image_path}") as img:
        assert img.genesis.marker == "here"
        assert img.path == image_path.resolve()


def test_memory_uri_bootstraps_and_commits() -> None:
    with open_image("memory://scratch") as img:
        assert img.uri == "memory://scratch"
        assert img.path is None
        s = img.session()
        s.genesis.x = 1
        s.commit()
        other = img.session()
        assert other.genesis.x == 1
        s.close()
        other.close()


@pytest.mark.parametrize("uri", ["s3://bucket/image", "postgres://db/batos", "ftp://host/x"])
def test_unknown_scheme(uri: str) -> None:
    with pytest.raises(UnknownStorageScheme) as info:
        open_image(uri)
    text = one_line(info.value)
    assert uri.split("://")[0] in text and "memory://" in text


def test_zeo_uri_needs_host_and_port() -> None:
    with pytest.raises(UnknownStorageScheme, match="host and port"):
        open_image("zeo://localhost")


def test_second_open_of_a_locked_image_is_refused(image: Image, image_path: Path) -> None:
    with pytest.raises(ImageLocked) as info:
        open_image(image_path)
    text = one_line(info.value)
    assert str(image_path) in text and "locked" in text
    # The first opener is unaffected.
    s = image.session()
    s.genesis.still = "works"
    s.commit()
    s.close()


def test_image_can_be_reopened_after_close(image_path: Path) -> None:
    open_image(image_path).close()
    open_image(image_path).close()


def test_junk_file_is_not_an_image_and_is_left_untouched(tmp_path: Path) -> None:
    junk = tmp_path / "notes.txt"
    junk.write_bytes(b"these are my notes, not a database\n" * 20)
    before = fingerprint(junk)
    with pytest.raises(NotAnImage) as info:
        open_image(junk)
    text = one_line(info.value)
    assert str(junk) in text
    assert fingerprint(junk) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]  # no .lock, .index, .tmp


def test_tiny_junk_file_is_not_an_image(tmp_path: Path) -> None:
    junk = tmp_path / "two.bytes"
    junk.write_bytes(b"hi")
    with pytest.raises(NotAnImage):
        open_image(junk)
    assert junk.read_bytes() == b"hi"
    assert [p.name for p in tmp_path.iterdir()] == ["two.bytes"]


def test_directory_is_not_an_image(tmp_path: Path) -> None:
    with pytest.raises(NotAnImage) as info:
        open_image(tmp_path)
    text = one_line(info.value)
    assert "directory" in text and str(tmp_path) in text
    assert list(tmp_path.iterdir()) == []


def test_read_only_open_of_a_missing_image(tmp_path: Path) -> None:
    missing = tmp_path / "missing.fs"
    with pytest.raises(NotAnImage, match="does not exist"):
        open_image(missing, read_only=True)
    assert not missing.exists()


def test_read_only_open_reads(image_path: Path) -> None:
    open_image(image_path).close()
    with open_image(image_path, read_only=True) as img:
        assert parents(img.genesis) == [img.traits]


def test_image_from_a_newer_batos_is_refused(image_path: Path) -> None:
    with open_image(image_path) as img:
        s = img.session()
        s.meta.format_version = FORMAT_VERSION + 1
        s.commit()
        s.close()
    before = fingerprint(image_path)
    for _ in range(2):  # the failed open released the lock: the second is refused the same way
        with pytest.raises(ImageFormatTooNew) as info:
            open_image(image_path)
        text = one_line(info.value)
        assert str(FORMAT_VERSION + 1) in text and str(FORMAT_VERSION) in text
    assert fingerprint(image_path) == before


def test_every_image_error_is_an_image_error() -> None:
    for cls in (UnknownStorageScheme, ImageLocked, NotAnImage, ImageFormatTooNew):
        assert issubclass(cls, ImageError)


def test_read_only_open_of_an_older_image_is_refused_as_needing_migration(image_path: Path) -> None:
    with open_image(image_path) as img:
        s = img.session()
        s.meta.format_version = FORMAT_VERSION - 1
        s.commit()
        s.close()
    before = fingerprint(image_path)
    with pytest.raises(ImageError) as info:
        open_image(image_path, read_only=True)
    # Older, not newer: ImageFormatTooNew would tell the user to upgrade batos.
    assert not isinstance(info.value, ImageFormatTooNew)
    assert "read-only" in one_line(info.value)
    assert fingerprint(image_path) == before
