"""The `batos` API a method sees: the kernel's names plus what a layer above
provides (`objects.namespace.provide_api`), never an import of that layer."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from batos_core.objects import Method, UvmObject, namespace
from batos_core.selfsyntax.runtime import api as selflang_api
from batos_core.selfsyntax.runtime import provide_runtime

READ_PROBE = "def probe(self):\n    return batos.probe.answer\n"


@pytest.fixture
def fresh_namespace(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """This process's namespaces as they are, restored afterwards (built ones too)."""
    monkeypatch.setattr(namespace, "_provided", dict(namespace._provided))
    monkeypatch.setattr(namespace, "_globals", namespace._globals)
    monkeypatch.setattr(namespace, "_restricted", namespace._restricted)
    yield


class Probe:
    answer = 42


def make_probe() -> Any:
    return Probe()


def test_a_provided_name_reaches_methods_compiled_after_it(fresh_namespace: None) -> None:
    namespace.restricted_namespace()  # built before: the new name must still arrive
    namespace.provide_api("probe", make_probe)
    assert UvmObject(probe=Method("probe", READ_PROBE)).probe() == 42
    assert UvmObject(probe=Method("probe", READ_PROBE, {"trusted": True})).probe() == 42


def test_providing_again_the_same_is_nothing_and_a_clash_is_refused(fresh_namespace: None) -> None:
    namespace.provide_api("probe", make_probe)
    built = namespace.restricted_namespace()
    namespace.provide_api("probe", make_probe)
    assert namespace.restricted_namespace() is built
    with pytest.raises(ValueError, match=r"batos\.probe"):
        namespace.provide_api("probe", Probe)
    with pytest.raises(ValueError, match=r"batos\.clone"):
        namespace.provide_api("clone", make_probe)


def test_without_the_self_runtime_methods_have_no_selflang(fresh_namespace: None) -> None:
    namespace._provided.clear()
    namespace._drop_built()
    source = "def probe(self):\n    return batos.selflang\n"
    with pytest.raises(AttributeError, match="selflang"):
        UvmObject(probe=Method("probe", source, {"trusted": True})).probe()


def test_the_self_runtime_is_provided_as_selflang(fresh_namespace: None) -> None:
    provide_runtime()
    provide_runtime()
    assert namespace._provided["selflang"] is selflang_api
    source = "def probe(self):\n    return batos.selflang.send\n"
    assert callable(UvmObject(probe=Method("probe", source)).probe())
