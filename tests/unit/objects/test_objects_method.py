"""Method: source in the image, compiled once per process, run with controlled globals."""

from __future__ import annotations

from pathlib import Path

import pytest

from batos_core.image import Image, open_image
from batos_core.image_format import MIGRATIONS
from batos_core.objects import (
    Method,
    MethodCompileError,
    UvmObject,
    check_source,
    compile_method,
    lookup,
    set_slot,
)

# Visible in this module's globals; a method must not see it.
TEST_MODULE_SECRET = "leaked"


def test_function_is_compiled_once_and_reused() -> None:
    m = Method("double", "def double(self, n):\n    return 2 * n\n")
    first = m.function
    assert m.function is first
    obj = UvmObject(double=m)
    assert obj.double(4) == 8
    assert obj.double.__func__ is first
    assert obj.double is obj.double  # the bound method is cached on the receiver


def test_same_source_shares_code_across_method_copies(image: Image) -> None:
    a, b = image.session(), image.session()
    set_slot(a.genesis, "double", Method("double", "def double(self, n):\n    return 2 * n\n"))
    a.commit()
    b.transaction_manager.begin()
    fa = lookup(a.genesis, "double").value.function
    fb = lookup(b.genesis, "double").value.function
    assert fa is not fb  # each connection has its own Method copy...
    assert fa.__code__ is fb.__code__  # ...but the source was compiled once
    a.close()
    b.close()


def test_method_globals_are_controlled() -> None:
    source = (
        "def probe(self):\n"
        "    g = globals()\n"
        "    return ('batos' in g, 'TEST_MODULE_SECRET' in g, 'pytest' in g, g['__name__'])\n"
    )
    obj = UvmObject(probe=Method("probe", source, {"trusted": True}))
    assert obj.probe() == (True, False, False, "batos.methods")


def test_an_untrusted_method_has_no_globals_builtin() -> None:
    source = "def probe(self):\n    return globals()\n"
    obj = UvmObject(probe=Method("probe", source))
    with pytest.raises(NameError, match="globals"):
        obj.probe()


def test_method_can_use_the_batos_api() -> None:
    source = (
        "def twin(self):\n"
        "    t = batos.clone(self)\n"
        "    batos.set_slot(t, 'n', self.n + 1)\n"
        "    return t\n"
    )
    obj = UvmObject(n=1, twin=Method("twin", source))
    assert obj.twin().n == 2


def test_module_secret_is_a_name_error_inside_a_method() -> None:
    obj = UvmObject(peek=Method("peek", "def peek(self):\n    return TEST_MODULE_SECRET\n"))
    with pytest.raises(NameError, match="TEST_MODULE_SECRET"):
        obj.peek()


def test_top_level_import_in_method_source_works() -> None:
    source = "import math\n\n\ndef area(self):\n    return round(math.pi * self.r ** 2, 2)\n"
    obj = UvmObject(r=2, area=Method("area", source))
    assert obj.area() == 12.57


def test_methods_do_not_share_globals() -> None:
    writer = Method("w", "shared = 1\n\n\ndef w(self):\n    return shared\n")
    reader = Method("r", "def r(self):\n    return shared\n")
    assert writer.function(None) == 1
    with pytest.raises(NameError, match="shared"):
        reader.function(None)


def test_syntax_error_names_the_line() -> None:
    source = "def broken(self):\n    x = 1\n    return (x\n"
    with pytest.raises(MethodCompileError) as info:
        Method("broken", source).function  # noqa: B018
    assert info.value.selector == "broken"
    assert info.value.lineno == 3
    assert "line 3" in str(info.value) and "broken" in str(info.value)
    with pytest.raises(MethodCompileError):
        check_source("broken", source)


def test_source_must_define_its_selector() -> None:
    with pytest.raises(MethodCompileError, match="does not define a function 'wanted'"):
        compile_method("wanted", "def other(self):\n    return 1\n")
    with pytest.raises(MethodCompileError):
        compile_method("wanted", "wanted = 3\n")


def test_failing_top_level_code_is_a_compile_error() -> None:
    source = "import batos_no_such_module_zz\n\n\ndef uses(self):\n    return 1\n"
    with pytest.raises(MethodCompileError) as info:
        compile_method("uses", source)
    assert info.value.lineno == 1
    assert "batos_no_such_module_zz" in str(info.value)


def test_versions_chain() -> None:
    v1 = Method("f", "def f(self):\n    return 1\n", {"author": "alice"})
    v2 = Method("f", "def f(self):\n    return 2\n", previous=v1)
    v3 = Method("f", "def f(self):\n    return 3\n", previous=v2)
    assert [m.version for m in v3.versions()] == [3, 2, 1]
    assert v3.versions() == [v3, v2, v1]
    assert v3.previous is v2 and v1.previous is None
    assert v1.provenance["author"] == "alice"
    assert v2.provenance["author"] == "unknown"
    assert isinstance(v2.provenance["created"], float)
    assert v1.source_hash != v2.source_hash
    assert len(v1.source_hash) == 64


def test_versions_survive_reopen(image_path: Path) -> None:
    with open_image(image_path, migrations=MIGRATIONS) as img:
        s = img.session()
        v1 = Method("f", "def f(self):\n    return 1\n")
        set_slot(s.genesis, "f", v1)
        s.commit()
        set_slot(s.genesis, "f", Method("f", "def f(self):\n    return 2\n", previous=v1))
        s.commit()
        s.close()
    with open_image(image_path, migrations=MIGRATIONS) as img:
        genesis = img.genesis
        assert genesis.f() == 2
        current = lookup(genesis, "f").value
        assert [m.version for m in current.versions()] == [2, 1]
        assert current.previous.function(genesis) == 1
