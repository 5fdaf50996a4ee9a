"""postgresql:// URIs: parsed into a spec whose shown URI never carries the password."""

from __future__ import annotations

import pytest

from batos_core.image import UnknownStorageScheme
from batos_core.image.postgresql import dsn_of
from batos_core.image.storage import parse_image_uri
from batos_core.places import canonical_image_uri, image_id


def test_a_postgresql_uri_keeps_its_password_out_of_sight() -> None:
    spec = parse_image_uri("postgresql://ada:s%40cret@db.example:6543/shop")
    assert (spec.host, spec.port, spec.name, spec.user, spec.password) == (
        "db.example",
        6543,
        "shop",
        "ada",
        "s@cret",
    )
    assert spec.uri == "postgresql://ada@db.example:6543/shop"
    assert "s@cret" not in repr(spec)
    assert canonical_image_uri("postgresql://ada:s%40cret@db.example:6543/shop") == (
        "postgresql://ada@db.example:6543/shop"
    )
    # The daemon's files do not change with the password.
    assert image_id("postgresql://ada:one@h:1/w") == image_id("postgresql://ada:two@h:1/w")
    assert "password='s@cret'" in dsn_of(spec) and "dbname='shop'" in dsn_of(spec)


def test_the_default_port() -> None:
    assert parse_image_uri("postgresql://ada@db.example/shop").port == 5432


@pytest.mark.parametrize("bad", ["postgresql://db.example", "postgresql:///shop", "postgresql://a:pw@h:x/db"])
def test_incomplete_uris_are_refused_without_the_password(bad: str) -> None:
    with pytest.raises(UnknownStorageScheme) as caught:
        parse_image_uri(bad)
    assert "postgresql://USER@HOST:PORT/DATABASE" in str(caught.value)
    assert ":pw@" not in str(caught.value)
