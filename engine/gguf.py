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

# A header is untrusted input: these bounds keep a crafted one from exhausting time or memory.
MAX_STRING_BYTES = 16 * 1024 * 1024  # the largest metadata string kept (chat templates are KBs)
MAX_ARRAY_DEPTH = 3  # arrays of arrays of arrays; real files nest one level
MAX_KEYS = 100_000  # metadata entries; real files have a few dozen


class _Truncated(Exception):
    pass


class _Corrupt(Exception):
    pass


def _int_or_none(value: Any) -> int | None:
    """A metadata value that should be a whole number; None when it is anything else."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        return int(value)
    except (ValueError, OverflowError):  # NaN, infinity
        return None


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None


@dataclass(frozen=True, slots=True)
class GGUFInfo:
    """What a GGUF header says about its model."""

    path: Path
    size_bytes: int
    version: int
    tensor_count: int
    metadata: dict[str, Any] = field(repr=False)

    # Metadata values are whatever the file says: each property checks the type it needs.

    @property
    def architecture(self) -> str | None:
        return _str_or_none(self.metadata.get("general.architecture"))

    @property
    def name(self) -> str | None:
        return _str_or_none(self.metadata.get("general.name"))

    @property
    def context_length(self) -> int | None:
        value = _int_or_none(self.metadata.get(f"{self.architecture}.context_length"))
        return value if value is not None and value > 0 else None

    @property
    def quantization(self) -> str | None:
        file_type = _int_or_none(self.metadata.get("general.file_type"))
        if file_type is None:
            return None
        return FILE_TYPES.get(file_type, f"type {file_type}")

    @property
    def chat_template(self) -> str | None:
        return _str_or_none(self.metadata.get("tokenizer.chat_template"))


def _read(f: BinaryIO, n: int) -> bytes:
    data = f.read(n)
    if len(data) != n:
        raise _Truncated
    return data


def _unpack(f: BinaryIO, fmt: str) -> Any:
    return struct.unpack(fmt, _read(f, struct.calcsize(fmt)))[0]


def _remaining(f: BinaryIO, size: int) -> int:
    return size - f.tell()


def _string(f: BinaryIO, size: int) -> str:
    length = _unpack(f, "<Q")
    if length > _remaining(f, size):
        raise _Truncated
    if length > MAX_STRING_BYTES:  # keep the file's place, not the text
        f.seek(length, 1)
        return ""
    return _read(f, length).decode("utf-8", errors="replace")


def _value(f: BinaryIO, vtype: int, size: int, depth: int = 0) -> Any:
    if vtype in _SCALARS:
        return _unpack(f, _SCALARS[vtype])
    if vtype == _STRING:
        return _string(f, size)
    if vtype == _ARRAY:
        if depth >= MAX_ARRAY_DEPTH:
            raise _Corrupt(f"arrays nested deeper than {MAX_ARRAY_DEPTH} levels")
        item_type, count = _unpack(f, "<I"), _unpack(f, "<Q")
        if item_type in _SCALARS:  # skip the payload: we only keep the length
            payload = struct.calcsize(_SCALARS[item_type]) * count
            if payload > _remaining(f, size):
                raise _Truncated
            f.seek(payload, 1)
        elif item_type in (_STRING, _ARRAY):
            if count * 8 > _remaining(f, size):  # each item takes at least 8 bytes
                raise _Truncated
            for _ in range(count):
                _value(f, item_type, size, depth + 1)
        else:
            raise _Corrupt(f"unknown GGUF value type {item_type}")
        return {"array_of": item_type, "length": count}
    raise _Corrupt(f"unknown GGUF value type {vtype}")


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
            if kv_count > MAX_KEYS:
                raise _Corrupt(f"{kv_count} metadata entries")
            metadata: dict[str, Any] = {}
            for _ in range(kv_count):
                key = _string(f, size)
                metadata[key] = _value(f, _unpack(f, "<I"), size)
            if f.tell() > size:
                raise _Truncated
    except _Truncated:
        raise ModelFileError(f"model file is truncated: {path}") from None
    except (_Corrupt, ValueError, OverflowError, struct.error, MemoryError,
            RecursionError) as exc:
        raise ModelFileError(f"corrupt GGUF model file {path}: {exc}") from None
    except OSError as exc:
        raise ModelFileError(f"cannot read model file {path}: {exc.strerror}") from None
    return GGUFInfo(path, size, version, tensor_count, metadata)
