"""A GGUF file's header, read with the standard library alone, and its validity check.

GGUF (llama.cpp's model format, little-endian) is laid out as::

    magic "GGUF" | version u32 | tensor count u64 | key/value count u64
    key/values: key (u64 length + UTF-8) | value type u32 | value
    tensor infos: name | n_dims u32 | dims u64 x n_dims | ggml type u32 | offset u64
    padding to ``general.alignment`` (32 by default), then the tensor data

``read_header`` parses all of it but the data; ``check_complete`` then says
whether the file holds every tensor's bytes (from each tensor's offset, shape
and type). Both raise ``BadGGUFFile``, whose message is one line naming the
file and the problem: not a GGUF, a GGUF version this reader does not know,
or truncated. Whether llama.cpp supports the file's architecture only
llama.cpp can say (the llamacpp backend names it when loading fails).

This module imports neither numpy nor gguf nor llama_cpp, so the CLI uses it
(``batos model info``) and so does the daemon, before anything heavy loads.
Large metadata arrays (the tokenizer's vocabulary and merges) are skipped,
not kept: ``metadata`` holds them as ``SkippedArray``.
"""

from __future__ import annotations

import mmap
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

GGUF_MAGIC = b"GGUF"
SUPPORTED_VERSIONS = (2, 3)
DEFAULT_ALIGNMENT = 32
MAX_DIMS = 4  # GGML_MAX_DIMS
#: Arrays longer than this are skipped (their type and length kept), not decoded.
MAX_KEPT_ARRAY = 64

# GGUF value types -> struct format of a scalar (8: string, 9: array are special).
_SCALAR_FORMATS = {
    0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d",
}  # fmt: skip
_STRING, _ARRAY = 8, 9

# ggml tensor types: (name, elements per block, bytes per block), as ggml.c.
GGML_TYPES: dict[int, tuple[str, int, int]] = {
    0: ("F32", 1, 4),
    1: ("F16", 1, 2),
    2: ("Q4_0", 32, 18),
    3: ("Q4_1", 32, 20),
    6: ("Q5_0", 32, 22),
    7: ("Q5_1", 32, 24),
    8: ("Q8_0", 32, 34),
    9: ("Q8_1", 32, 40),
    10: ("Q2_K", 256, 84),
    11: ("Q3_K", 256, 110),
    12: ("Q4_K", 256, 144),
    13: ("Q5_K", 256, 176),
    14: ("Q6_K", 256, 210),
    15: ("Q8_K", 256, 292),
    16: ("IQ2_XXS", 256, 66),
    17: ("IQ2_XS", 256, 74),
    18: ("IQ3_XXS", 256, 98),
    19: ("IQ1_S", 256, 50),
    20: ("IQ4_NL", 32, 18),
    21: ("IQ3_S", 256, 110),
    22: ("IQ2_S", 256, 82),
    23: ("IQ4_XS", 256, 136),
    24: ("I8", 1, 1),
    25: ("I16", 1, 2),
    26: ("I32", 1, 4),
    27: ("I64", 1, 8),
    28: ("F64", 1, 8),
    29: ("IQ1_M", 256, 56),
    30: ("BF16", 1, 2),
    34: ("TQ1_0", 256, 54),
    35: ("TQ2_0", 256, 66),
    39: ("MXFP4", 32, 17),
}

# llama.cpp's ``general.file_type`` (enum llama_ftype) -> the usual quantization name.
FILE_TYPES: dict[int, str] = {
    0: "F32",
    1: "F16",
    2: "Q4_0",
    3: "Q4_1",
    7: "Q8_0",
    8: "Q5_0",
    9: "Q5_1",
    10: "Q2_K",
    11: "Q3_K_S",
    12: "Q3_K_M",
    13: "Q3_K_L",
    14: "Q4_K_S",
    15: "Q4_K_M",
    16: "Q5_K_S",
    17: "Q5_K_M",
    18: "Q6_K",
    19: "IQ2_XXS",
    20: "IQ2_XS",
    21: "Q2_K_S",
    22: "IQ3_XS",
    23: "IQ3_XXS",
    24: "IQ1_S",
    25: "IQ4_NL",
    26: "IQ3_S",
    27: "IQ3_M",
    28: "IQ2_S",
    29: "IQ2_M",
    30: "IQ4_XS",
    31: "IQ1_M",
    32: "BF16",
    36: "TQ1_0",
    37: "TQ2_0",
    38: "MXFP4_MOE",
}
_FILE_TYPE_GUESSED = 1024  # a flag llama.cpp ors in when the type was not recorded


class BadGGUFFile(Exception):
    """A file that is no readable, complete GGUF; the message is ``PATH: problem`` on one line.

    The llamacpp backend turns it into its ``BadModelFile`` (a backend error)."""

    def __init__(self, path: str | Path, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = str(path)
        self.problem = problem


class _Truncated(Exception):
    """A read ran past the end of the file (turned into ``BadGGUFFile``)."""


@dataclass(frozen=True)
class SkippedArray:
    """A metadata array too long to keep: its element type and length."""

    item_type: int
    length: int


@dataclass(frozen=True)
class TensorInfo:
    """One tensor's entry in the header: where its data is, relative to the data section."""

    name: str
    shape: tuple[int, ...]
    ggml_type: int
    offset: int

    @property
    def type_name(self) -> str:
        """The ggml type's name (``Q4_K``...), or ``type N`` for one this reader does not know."""
        known = GGML_TYPES.get(self.ggml_type)
        return known[0] if known else f"type {self.ggml_type}"

    @property
    def nbytes(self) -> int | None:
        """The tensor's data size in bytes, or None for an unknown ggml type."""
        known = GGML_TYPES.get(self.ggml_type)
        if known is None:
            return None
        _, block, size = known
        elements = 1
        for dim in self.shape:
            elements *= dim
        return elements // block * size


@dataclass(frozen=True)
class GGUFHeader:
    """Everything in a GGUF file but its tensor data."""

    path: Path
    version: int
    metadata: dict[str, Any]
    tensors: tuple[TensorInfo, ...]
    data_offset: int  # where the data section starts (aligned)
    file_size: int

    @property
    def architecture(self) -> str:
        """``general.architecture`` (``llama``, ``qwen2``...), or ``""`` if absent."""
        return str(self.metadata.get("general.architecture", ""))

    @property
    def name(self) -> str:
        """``general.name``, or ``""``."""
        return str(self.metadata.get("general.name", ""))

    @property
    def chat_template(self) -> str | None:
        """``tokenizer.chat_template``, or None when the file has none."""
        template = self.metadata.get("tokenizer.chat_template")
        return template if isinstance(template, str) else None

    @property
    def alignment(self) -> int:
        """``general.alignment`` (32 when absent)."""
        value = self.metadata.get("general.alignment", DEFAULT_ALIGNMENT)
        return value if isinstance(value, int) and value > 0 else DEFAULT_ALIGNMENT

    @property
    def quantization(self) -> str:
        """The quantization named by ``general.file_type`` (``Q4_K_M``), else the
        commonest type of the 2-D tensors, else ``unknown``."""
        file_type = self.metadata.get("general.file_type")
        if isinstance(file_type, int):
            name = FILE_TYPES.get(file_type & ~_FILE_TYPE_GUESSED)
            if name is not None:
                return name
        counts: dict[str, int] = {}
        for tensor in self.tensors:
            if len(tensor.shape) >= 2:
                counts[tensor.type_name] = counts.get(tensor.type_name, 0) + 1
        return max(counts, key=counts.__getitem__) if counts else "unknown"

    @property
    def data_end(self) -> int:
        """The smallest file size that holds every tensor whose size is known."""
        end = self.data_offset
        for tensor in self.tensors:
            size = tensor.nbytes
            if size is not None:
                end = max(end, self.data_offset + tensor.offset + size)
        return end


def read_header(path: str | Path) -> GGUFHeader:
    """Parse the header of the GGUF at ``path`` (not its tensor data).

    Raises ``BadGGUFFile`` when the file cannot be read, is not a GGUF, has a
    version other than 2 or 3, or ends inside the header.
    """
    path = Path(path)
    try:
        with path.open("rb") as stream:
            size = path.stat().st_size
            if size < 4:
                raise BadGGUFFile(path, f"not a GGUF file ({size} bytes)")
            with mmap.mmap(stream.fileno(), 0, access=mmap.ACCESS_READ) as data:
                return _parse(path, data, size)
    except OSError as error:
        raise BadGGUFFile(path, f"cannot read it: {error.strerror or error}") from error


def check_complete(header: GGUFHeader) -> None:
    """Raise ``BadGGUFFile`` if the file ends before its last tensor's data does."""
    expected = header.data_end
    if header.file_size < expected:
        raise BadGGUFFile(
            header.path,
            f"truncated: its tensors need {expected} bytes, the file has {header.file_size}",
        )


def validate(path: str | Path) -> GGUFHeader:
    """``read_header`` then ``check_complete``: the header of a complete GGUF."""
    header = read_header(path)
    check_complete(header)
    return header


def _parse(path: Path, data: mmap.mmap, size: int) -> GGUFHeader:
    magic = bytes(data[:4])
    if magic != GGUF_MAGIC:
        raise BadGGUFFile(path, f"not a GGUF file (it starts with {magic!r}, not {GGUF_MAGIC!r})")
    reader = _Reader(data, size)
    try:
        reader.offset = 4
        version = reader.scalar("<I")
        if version not in SUPPORTED_VERSIONS:
            raise BadGGUFFile(path, f"GGUF version {version} is not supported (known: 2, 3)")
        tensor_count = reader.scalar("<Q")
        kv_count = reader.scalar("<Q")
        metadata: dict[str, Any] = {}
        for _ in range(kv_count):
            key = reader.string()
            metadata[key] = reader.value(reader.scalar("<I"))
        tensors = tuple(_tensor_info(reader) for _ in range(tensor_count))
    except _Truncated:
        raise BadGGUFFile(path, "truncated: the file ends inside its header") from None
    except ValueError as error:  # a corrupt header: an unknown value type, a bad string
        raise BadGGUFFile(path, f"corrupt GGUF header: {error}") from None
    header = GGUFHeader(path, version, metadata, tensors, 0, size)
    alignment = header.alignment
    data_offset = -(-reader.offset // alignment) * alignment
    return GGUFHeader(path, version, metadata, tensors, data_offset, size)


def _tensor_info(reader: _Reader) -> TensorInfo:
    name = reader.string()
    n_dims = reader.scalar("<I")
    if n_dims > MAX_DIMS:
        raise ValueError(f"tensor {name!r} has {n_dims} dimensions (at most {MAX_DIMS})")
    shape = tuple(reader.scalar("<Q") for _ in range(n_dims))
    ggml_type = reader.scalar("<I")
    offset = reader.scalar("<Q")
    return TensorInfo(name, shape, ggml_type, offset)


class _Reader:
    """Little-endian reads from the mapped file; past the end raises ``_Truncated``."""

    def __init__(self, data: mmap.mmap, size: int) -> None:
        self.data = data
        self.size = size
        self.offset = 0

    def scalar(self, fmt: str) -> Any:
        width = struct.calcsize(fmt)
        if self.offset + width > self.size:
            raise _Truncated
        (value,) = struct.unpack_from(fmt, self.data, self.offset)
        self.offset += width
        return value

    def string(self) -> str:
        length = self.scalar("<Q")
        if self.offset + length > self.size:
            raise _Truncated
        raw = self.data[self.offset : self.offset + length]
        self.offset += length
        return raw.decode("utf-8", errors="replace")

    def skip_string(self) -> None:
        length = self.scalar("<Q")
        if self.offset + length > self.size:
            raise _Truncated
        self.offset += length

    def value(self, value_type: int) -> Any:
        if value_type == _STRING:
            return self.string()
        if value_type == _ARRAY:
            return self.array()
        fmt = _SCALAR_FORMATS.get(value_type)
        if fmt is None:
            raise ValueError(f"unknown value type {value_type}")
        return self.scalar(fmt)

    def array(self) -> list[Any] | SkippedArray:
        item_type = self.scalar("<I")
        length = self.scalar("<Q")
        if length <= MAX_KEPT_ARRAY:
            return [self.value(item_type) for _ in range(length)]
        fmt = _SCALAR_FORMATS.get(item_type)
        if fmt is not None:  # fixed width: jump over it
            end = self.offset + length * struct.calcsize(fmt)
            if end > self.size:
                raise _Truncated
            self.offset = end
        elif item_type == _STRING:
            for _ in range(length):
                self.skip_string()
        else:
            for _ in range(length):
                self.value(item_type)
        return SkippedArray(item_type, length)
