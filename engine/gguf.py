"""Read a GGUF file's header and metadata without loading the model.

Used to validate a file before llama.cpp sees it (so a wrong file is a clear error, not a
crash) and to describe it in `models plan` (architecture, context length, quantization).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from .errors import ModelFileError

GGUF_MAGIC = b"GGUF"

# llama.cpp's `llama_ftype` values, as stored in `general.file_type`.
FILE_TYPES = {
    0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 7: "Q8_0", 8: "Q5_0", 9: "Q5_1", 10: "Q2_K",
    11: "Q3_K_S", 12: "Q3_K_M", 13: "Q3_K_L", 14: "Q4_K_S", 15: "Q4_K_M", 16: "Q5_K_S",
    17: "Q5_K_M", 18: "Q6_K", 19: "IQ2_XXS", 20: "IQ2_XS", 21: "Q2_K_S", 22: "IQ3_XS",
    23: "IQ3_XXS", 24: "IQ1_S", 25: "IQ4_NL", 26: "IQ3_S", 27: "IQ3_M", 28: "IQ2_S",
    29: "IQ2_M", 30: "IQ4_XS", 31: "IQ1_M", 32: "BF16", 36: "TQ1_0", 37: "TQ2_0",
    38: "MXFP4_MOE",
}

_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?",
            10: "<Q", 11: "<q", 12: "<d"}
_STRING, _ARRAY = 8, 9


class _Truncated(Exception):
    pass


@dataclass(frozen=True, slots=True)
class GGUFInfo:
    """What a GGUF header says about its model."""

    path: Path
    size_bytes: int
    version: int
    tensor_count: int
    metadata: dict[str, Any] = field(repr=False)

    @property
    def architecture(self) -> str | None:
        return self.metadata.get("general.architecture")

    @property
    def name(self) -> str | None:
        return self.metadata.get("general.name")

    @property
    def context_length(self) -> int | None:
        value = self.metadata.get(f"{self.architecture}.context_length")
        return int(value) if value is not None else None

    @property
    def quantization(self) -> str | None:
        file_type = self.metadata.get("general.file_type")
        if file_type is None:
            return None
        return FILE_TYPES.get(int(file_type), f"type {file_type}")

    @property
    def chat_template(self) -> str | None:
        return self.metadata.get("tokenizer.chat_template")


def _read(f: BinaryIO, n: int) -> bytes:
    data = f.read(n)
    if len(data) != n:
        raise _Truncated
    return data


def _unpack(f: BinaryIO, fmt: str) -> Any:
    return struct.unpack(fmt, _read(f, struct.calcsize(fmt)))[0]


def _string(f: BinaryIO) -> str:
    return _read(f, _unpack(f, "<Q")).decode("utf-8", errors="replace")


def _value(f: BinaryIO, vtype: int) -> Any:
    if vtype in _SCALARS:
        return _unpack(f, _SCALARS[vtype])
    if vtype == _STRING:
        return _string(f)
    if vtype == _ARRAY:
        item_type, count = _unpack(f, "<I"), _unpack(f, "<Q")
        if item_type in _SCALARS:  # skip the payload: we only keep the length
            f.seek(struct.calcsize(_SCALARS[item_type]) * count, 1)
        else:
            for _ in range(count):
                _value(f, item_type)
        return {"array_of": item_type, "length": count}
    raise ValueError(f"unknown GGUF value type {vtype}")


def read_gguf(path: str | Path) -> GGUFInfo:
    """Read and validate the header of a GGUF file, or raise ModelFileError."""
    path = Path(path).expanduser()
    if not path.exists():
        raise ModelFileError(f"model file not found: {path}")
    if not path.is_file():
        raise ModelFileError(f"not a file: {path}")
    size = path.stat().st_size
    try:
        with path.open("rb") as f:
            if f.read(4) != GGUF_MAGIC:
                raise ModelFileError(f"not a GGUF model file: {path}")
            version = _unpack(f, "<I")
            if version not in (2, 3):
                raise ModelFileError(f"unsupported GGUF version {version}: {path}")
            tensor_count, kv_count = _unpack(f, "<Q"), _unpack(f, "<Q")
            metadata: dict[str, Any] = {}
            for _ in range(kv_count):
                key = _string(f)
                metadata[key] = _value(f, _unpack(f, "<I"))
            if f.tell() > size:
                raise _Truncated
    except _Truncated:
        raise ModelFileError(f"model file is truncated: {path}") from None
    except (ValueError, OverflowError, struct.error) as exc:
        raise ModelFileError(f"corrupt GGUF model file {path}: {exc}") from None
    except OSError as exc:
        raise ModelFileError(f"cannot read model file {path}: {exc.strerror}") from None
    return GGUFInfo(path, size, version, tensor_count, metadata)
