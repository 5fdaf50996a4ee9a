"""open_image: bootstrap, the migrations it is given, a reopen that writes nothing, storage URIs
and one-line errors."""

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
from batos_core.image.migrations import BOOTSTRAP, MigrationStep
from batos_core.image_format import FORMAT_VERSION, MIGRATIONS
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


def test_the_recorded_migrations_keep_their_numbers_and_titles() -> None:
    # Recorded in every image (ImageMeta.migrations): never renumbered, only appended.
    assert [(number, title) for number, title, _ in MIGRATIONS] == [
        (1, "bootstrap lobby, traits and genesis"),
        (2, "exactly-once reply table"),
        (3, "method change log"),
        (4, "per-type traits for numbers, strings, lists, nil and booleans"),
        (5, "autotelic record of self-improvement acts"),
        (6, "reply table in small nodes with packed entries"),
        (7, "standard protocol of numbers, strings, lists, booleans, nil and blocks"),
        (8, "reply table in fixed hashed buckets"),
    ]


def test_an_image_opened_with_more_migrations_runs_only_the_new_ones(image_path: Path) -> None:
    with open_image(image_path, migrations=[BOOTSTRAP]) as img:
        assert img.default_session.meta.format_version == 1
        assert "batos.replies" not in img.default_session.root
    with open_image(image_path, migrations=MIGRATIONS) as img:
        meta = img.default_session.meta
        assert meta.format_version == FORMAT_VERSION
        assert [m["number"] for m in meta.migrations] == [n for n, _, _ in MIGRATIONS]
        assert "batos.replies" in img.default_session.root
    with pytest.raises(ImageFormatTooNew, match=f"image format {FORMAT_VERSION} is newer .* \\(1\\)"):
        open_image(image_path, migrations=[BOOTSTRAP])


@pytest.mark.parametrize(
    "steps",
    [[], MIGRATIONS[1:], [BOOTSTRAP, MIGRATIONS[2]]],
    ids=["none", "no bootstrap", "a gap"],
)
def test_migrations_must_start_with_the_bootstrap_and_have_no_gap(
    image_path: Path, steps: list[MigrationStep]
) -> None:
    with pytest.raises(ValueError, match=r"bootstrap|without gaps"):
        open_image(image_path, migrations=steps)
    assert not image_path.exists()


def test_reopen_loads_the_same_objects_and_writes_nothing(image_path: Path) -> None:
    with open_image(image_path, migrations=MIGRATIONS) as img:
        oids = (oid_of(img.lobby), oid_of(img.traits), oid_of(img.genesis))
        last = img.db.lastTransaction()
    before = fingerprint(image_path)
    with open_image(image_path, migrations=MIGRATIONS) as img:
        assert (oid_of(img.lobby), oid_of(img.traits), oid_of(img.genesis)) == oids
        assert img.db.lastTransaction() == last
        assert parents(img.genesis) == [img.traits]
        assert img.genesis.clone().respondsTo_("printString")  # used, not committed
    assert fingerprint(image_path) == before


def test_file_uri_and_path_open_the_same_image(image_path: Path) -> None:
    with open_image(image_path, migrations=MIGRATIONS) as img:
        s = img.session()
        s.genesis.marker = "here"
        s.commit()
        s.close()
    with open_image(f"file://{image_path}", migrations=MIGRATIONS) as img:
        assert img.genesis.marker == "here"
        assert img.path == image_path.resolve()


def test_memory_uri_bootstraps_and_commits() -> None:
    with open_image("memory://scratch", migrations=MIGRATIONS) as img:
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
        open_image(uri, migrations=MIGRATIONS)
    text = one_line(info.value)
    assert uri.split("://")[0] in text and "memory://" in text


def test_zeo_uri_needs_host_and_port() -> None:
    with pytest.raises(UnknownStorageScheme, match="host and port"):
        open_image("zeo://localhost", migrations=MIGRATIONS)


def test_second_open_of_a_locked_image_is_refused(image: Image, image_path: Path) -> None:
    with pytest.raises(ImageLocked) as info:
        open_image(image_path, migrations=MIGRATIONS)
    text = one_line(info.value)
    assert str(image_path) in text and "locked" in text
    # The first opener is unaffected.
    s = image.session()
    s.genesis.still = "works"
    s.commit()
    s.close()


def test_image_can_be_reopened_after_close(image_path: Path) -> None:
    open_image(image_path, migrations=MIGRATIONS).close()
    open_image(image_path, migrations=MIGRATIONS).close()


def test_junk_file_is_not_an_image_and_is_left_untouched(tmp_path: Path) -> None:
    junk = tmp_path / "notes.txt"
    junk.write_bytes(b"these are my notes, not a database\n" * 20)
    before = fingerprint(junk)
    with pytest.raises(NotAnImage) as info:
        open_image(junk, migrations=MIGRATIONS)
    text = one_line(info.value)
    assert str(junk) in text
    assert fingerprint(junk) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]  # no .lock, .index, .tmp


def test_tiny_junk_file_is_not_an_image(tmp_path: Path) -> None:
    junk = tmp_path / "two.bytes"
    junk.write_bytes(b"hi")
    with pytest.raises(NotAnImage):
        open_image(junk, migrations=MIGRATIONS)
    assert junk.read_bytes() == b"hi"
    assert [p.name for p in tmp_path.iterdir()] == ["two.bytes"]


def test_directory_is_not_an_image(tmp_path: Path) -> None:
    with pytest.raises(NotAnImage) as info:
        open_image(tmp_path, migrations=MIGRATIONS)
    text = one_line(info.value)
    assert "directory" in text and str(tmp_path) in text
    assert list(tmp_path.iterdir()) == []


def test_read_only_open_of_a_missing_image(tmp_path: Path) -> None:
    missing = tmp_path / "missing.fs"
    with pytest.raises(NotAnImage, match="does not exist"):
        open_image(missing, read_only=True, migrations=MIGRATIONS)
    assert not missing.exists()


def test_read_only_open_reads(image_path: Path) -> None:
    open_image(image_path, migrations=MIGRATIONS).close()
    with open_image(image_path, read_only=True, migrations=MIGRATIONS) as img:
        assert parents(img.genesis) == [img.traits]


def test_image_from_a_newer_batos_is_refused(image_path: Path) -> None:
    with open_image(image_path, migrations=MIGRATIONS) as img:
        s = img.session()
        s.meta.format_version = FORMAT_VERSION + 1
        s.commit()
        s.close()
    before = fingerprint(image_path)
    for _ in range(2):  # the failed open released the lock: the second is refused the same way
        with pytest.raises(ImageFormatTooNew) as info:
            open_image(image_path, migrations=MIGRATIONS)
        text = one_line(info.value)
        assert str(FORMAT_VERSION + 1) in text and str(FORMAT_VERSION) in text
    assert fingerprint(image_path) == before


def test_every_image_error_is_an_image_error() -> None:
    for cls in (UnknownStorageScheme, ImageLocked, NotAnImage, ImageFormatTooNew):
        assert issubclass(cls, ImageError)


def test_read_only_open_of_an_older_image_is_refused_as_needing_migration(image_path: Path) -> None:
    with open_image(image_path, migrations=MIGRATIONS) as img:
        s = img.session()
        s.meta.format_version = FORMAT_VERSION - 1
        s.commit()
        s.close()
    before = fingerprint(image_path)
    with pytest.raises(ImageError) as info:
        open_image(image_path, read_only=True, migrations=MIGRATIONS)
    # Older, not newer: ImageFormatTooNew would tell the user to upgrade batos.
    assert not isinstance(info.value, ImageFormatTooNew)
    assert "read-only" in one_line(info.value)
    assert fingerprint(image_path) == before
