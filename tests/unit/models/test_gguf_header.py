"""The standard-library GGUF header reader, on the real smollm GGUF and on broken files."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from batos_core.models.cache import gguf_quantization
from batos_core.models.gguf_header import (
    FILE_TYPES,
    GGML_TYPES,
    MAX_KEPT_ARRAY,
    BadGGUFFile,
    SkippedArray,
    check_complete,
    read_header,
    validate,
)


def test_reads_the_real_header(smollm_gguf: Path) -> None:
    header = validate(smollm_gguf)
    assert header.version == 3 and header.architecture == "llama"
    assert header.quantization == "Q4_1" and header.metadata["general.file_type"] == 3
    assert header.chat_template is not None and "<|im_start|>" in header.chat_template
    assert header.alignment == 32 and header.data_offset % 32 == 0
    assert len(header.tensors) == 272
    assert header.data_end == header.file_size == smollm_gguf.stat().st_size
    vocabulary = header.metadata["tokenizer.ggml.tokens"]
    assert isinstance(vocabulary, SkippedArray) and vocabulary.length == 49152  # skipped, not kept
    embedding = next(t for t in header.tensors if t.name == "token_embd.weight")
    assert embedding.shape == (576, 49152) and embedding.type_name in GGML_TYPES_NAMES


GGML_TYPES_NAMES = {name for name, _, _ in GGML_TYPES.values()}


def test_the_tables_agree_with_the_gguf_package() -> None:
    from gguf.constants import GGML_QUANT_SIZES, GGMLQuantizationType, LlamaFileType

    for number, (name, block, size) in GGML_TYPES.items():
        kind = GGMLQuantizationType(number)
        assert kind.name == name and GGML_QUANT_SIZES[kind] == (block, size)
    for number, name in FILE_TYPES.items():
        assert LlamaFileType(number).name.removeprefix("MOSTLY_").removeprefix("ALL_") == name


def test_agrees_with_the_gguf_package_reader(smollm_gguf: Path) -> None:
    from gguf import GGUFReader

    reference = GGUFReader(smollm_gguf)
    header = read_header(smollm_gguf)
    assert [t.name for t in header.tensors] == [t.name for t in reference.tensors]
    for ours, theirs in zip(header.tensors, reference.tensors, strict=True):
        assert ours.nbytes == int(theirs.n_bytes)
        assert header.data_offset + ours.offset == int(theirs.data_offset)
    kept = {k: v for k, v in header.metadata.items() if not isinstance(v, (SkippedArray, list))}
    for key, value in kept.items():
        field = reference.fields[key]
        expected = field.contents()
        assert value == pytest.approx(expected) if isinstance(value, float) else value == expected, key
    assert all(len(v) <= MAX_KEPT_ARRAY for v in header.metadata.values() if isinstance(v, list))


def test_truncation_is_found_from_the_tensor_offsets(smollm_gguf: Path, tmp_path: Path) -> None:
    header = read_header(smollm_gguf)
    cut = tmp_path / "cut.gguf"
    with smollm_gguf.open("rb") as source:
        cut.write_bytes(source.read(header.data_end - 1))  # one byte short of the last tensor
    short = read_header(cut)  # the header itself is whole
    with pytest.raises(BadGGUFFile, match=f"^{cut}: truncated: its tensors need {header.data_end} bytes"):
        check_complete(short)
    inside = tmp_path / "inside-header.gguf"
    with smollm_gguf.open("rb") as source:
        inside.write_bytes(source.read(5000))
    with pytest.raises(BadGGUFFile, match=f"^{inside}: truncated: the file ends inside its header$"):
        read_header(inside)


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"", r"not a GGUF file \(0 bytes\)"),
        (b"PK\x03\x04zipfile", r"not a GGUF file \(it starts with b'PK\\x03\\x04', not b'GGUF'\)"),
        (b"GGUF\x01\x00\x00\x00" + bytes(16), r"GGUF version 1 is not supported \(known: 2, 3\)"),
        (b"GGUF\x03\x00\x00\x00" + (0).to_bytes(8, "little") + (1).to_bytes(8, "little")
         + (1).to_bytes(8, "little") + b"k" + (99).to_bytes(4, "little"),
         r"corrupt GGUF header: unknown value type 99"),
    ],
)  # fmt: skip
def test_files_that_are_not_readable_ggufs(tmp_path: Path, content: bytes, problem: str) -> None:
    path = tmp_path / "model.gguf"
    path.write_bytes(content)
    with pytest.raises(BadGGUFFile, match=f"^{path}: {problem}$"):
        validate(path)


def test_a_directory_is_not_a_gguf(tmp_path: Path) -> None:
    with pytest.raises(BadGGUFFile, match=f"^{tmp_path}: cannot read it: "):
        read_header(tmp_path)


def test_quantization_of_a_catalog_name_or_path(smollm_gguf: Path, tmp_path: Path) -> None:
    assert gguf_quantization(str(smollm_gguf)) == "Q4_1"
    assert gguf_quantization("Qwen/Qwen2.5-0.5B") == ""  # a hub id: nothing to read here
    assert gguf_quantization(str(tmp_path)) == ""  # a directory
    assert gguf_quantization("no-such-model") == ""


def test_the_reader_imports_nothing_heavy(smollm_gguf: Path) -> None:
    code = (
        "import sys\n"
        "from batos_core.models.gguf_header import validate\n"
        f"assert validate({str(smollm_gguf)!r}).quantization == 'Q4_1'\n"
        "heavy = {'numpy', 'gguf', 'llama_cpp', 'torch'} & set(sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[3])}
    subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=60)
