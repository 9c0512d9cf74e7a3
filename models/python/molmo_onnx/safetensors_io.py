"""A small reader and writer for the safetensors format, with no dependency beyond torch + numpy.

Debian ships no `safetensors` package, so this implements the format directly:

    [8 bytes]  N, the header length, unsigned 64-bit little-endian
    [N bytes]  a UTF-8 JSON object: {name: {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}}
               plus an optional "__metadata__": {str: str}; writers pad it with spaces to 8 bytes
    [rest]     the tensors' raw little-endian bytes; offsets are relative to the start of this part

The reader parses and checks the header first (dtype known, byte count = numel * itemsize,
offsets inside the file) and reads one tensor at a time, so a 30 GB checkpoint can be checked
against the model before any weight is read. Sharded checkpoints (model.safetensors.index.json)
are opened by `ShardedCheckpoint`.
"""

from __future__ import annotations

import json
import math
import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterator, List, Mapping, Optional, Tuple

import numpy as np
import torch

from .errors import CheckpointError, SafetensorsError

# safetensors dtype tag -> (torch dtype, bytes per element, little-endian numpy dtype to read as).
# BF16 has no numpy type: it is read as int16 and reinterpreted by torch.
_DTYPES: Dict[str, Tuple[torch.dtype, int, str]] = {
    "F64": (torch.float64, 8, "<f8"),
    "F32": (torch.float32, 4, "<f4"),
    "F16": (torch.float16, 2, "<f2"),
    "BF16": (torch.bfloat16, 2, "<i2"),
    "I64": (torch.int64, 8, "<i8"),
    "I32": (torch.int32, 4, "<i4"),
    "I16": (torch.int16, 2, "<i2"),
    "I8": (torch.int8, 1, "<i1"),
    "U8": (torch.uint8, 1, "<u1"),
    "BOOL": (torch.bool, 1, "<u1"),
}
_TAG_OF_DTYPE = {torch_dtype: tag for tag, (torch_dtype, _, _) in _DTYPES.items()}

# A header larger than this is certainly not a checkpoint header (the 7B index has ~600 names).
_MAX_HEADER_BYTES = 100 * 1024 * 1024


@dataclass(frozen=True)
class TensorInfo:
    """One header entry: where a tensor lies and what it is."""

    dtype: str  # safetensors tag, e.g. "F32"
    shape: Tuple[int, ...]
    begin: int  # byte offsets within the data section
    end: int

    @property
    def torch_dtype(self) -> torch.dtype:
        return _DTYPES[self.dtype][0]


class SafetensorsFile:
    """A parsed and validated safetensors file; tensors are read on demand."""

    def __init__(self, path: "str | Path"):
        self.path = Path(path)
        if not self.path.is_file():
            raise SafetensorsError("file_missing", f"no such safetensors file: {self.path}")
        file_size = self.path.stat().st_size
        with open(self.path, "rb") as f:
            prefix = f.read(8)
            if len(prefix) < 8:
                raise SafetensorsError("corrupt", f"{self.path}: {file_size} bytes is too short for a header")
            (header_len,) = struct.unpack("<Q", prefix)
            if header_len > min(file_size - 8, _MAX_HEADER_BYTES):
                raise SafetensorsError("corrupt", f"{self.path}: header length {header_len} does not fit "
                                                  f"in a {file_size}-byte file")
            raw = f.read(header_len)
        try:
            header = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise SafetensorsError("corrupt", f"{self.path}: header is not UTF-8 JSON ({error})") from error
        if not isinstance(header, dict):
            raise SafetensorsError("corrupt", f"{self.path}: header is not a JSON object")

        self.metadata: Optional[Dict[str, str]] = header.pop("__metadata__", None)
        if self.metadata is not None and not (
                isinstance(self.metadata, dict)
                and all(isinstance(k, str) and isinstance(v, str) for k, v in self.metadata.items())):
            raise SafetensorsError("corrupt", f"{self.path}: __metadata__ must map strings to strings")

        self._data_start = 8 + header_len
        data_size = file_size - self._data_start
        self._infos: Dict[str, TensorInfo] = {}
        for name, entry in header.items():
            self._infos[name] = _parse_entry(self.path, name, entry, data_size)

    def keys(self) -> List[str]:
        return list(self._infos)

    def __contains__(self, name: str) -> bool:
        return name in self._infos

    def info(self, name: str) -> TensorInfo:
        if name not in self._infos:
            raise SafetensorsError("tensor_missing", f"{self.path} holds no tensor named {name!r}")
        return self._infos[name]

    def get_tensor(self, name: str) -> torch.Tensor:
        """Reads one tensor (a fresh, writable CPU tensor in the file's dtype)."""
        info = self.info(name)
        torch_dtype, _, np_dtype = _DTYPES[info.dtype]
        buffer = bytearray(info.end - info.begin)
        with open(self.path, "rb") as f:
            f.seek(self._data_start + info.begin)
            if f.readinto(buffer) != len(buffer):
                raise SafetensorsError("corrupt", f"{self.path}: tensor {name!r} is cut short")
        array = np.frombuffer(buffer, dtype=np.dtype(np_dtype))
        if not array.dtype.isnative:  # only on big-endian hosts
            array = array.astype(array.dtype.newbyteorder("="))
        tensor = torch.from_numpy(array)
        if info.dtype == "BF16":
            tensor = tensor.view(torch.bfloat16)
        elif info.dtype == "BOOL":
            tensor = tensor.to(torch.bool)
        return tensor.reshape(info.shape)


def _parse_entry(path: Path, name: str, entry: object, data_size: int) -> TensorInfo:
    def bad(why: str) -> SafetensorsError:
        return SafetensorsError("corrupt", f"{path}: tensor {name!r}: {why}")

    if not isinstance(entry, dict):
        raise bad("header entry is not an object")
    tag, shape, offsets = entry.get("dtype"), entry.get("shape"), entry.get("data_offsets")
    if tag not in _DTYPES:
        raise SafetensorsError("unsupported_dtype",
                               f"{path}: tensor {name!r} has dtype {tag!r}; supported: {', '.join(_DTYPES)}")
    if not isinstance(shape, list) or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0
                                              for d in shape):
        raise bad(f"shape {shape!r} is not a list of non-negative integers")
    if not (isinstance(offsets, list) and len(offsets) == 2
            and all(isinstance(o, int) and not isinstance(o, bool) for o in offsets)):
        raise bad(f"data_offsets {offsets!r} is not [begin, end]")
    begin, end = offsets
    if not 0 <= begin <= end <= data_size:
        raise bad(f"data_offsets [{begin}, {end}] fall outside the {data_size}-byte data section")
    expected = math.prod(shape) * _DTYPES[tag][1]
    if end - begin != expected:
        raise bad(f"holds {end - begin} bytes but {tag}{shape} needs {expected}")
    return TensorInfo(tag, tuple(shape), begin, end)


def load_file(path: "str | Path") -> Dict[str, torch.Tensor]:
    """Reads every tensor of one file."""
    f = SafetensorsFile(path)
    return {name: f.get_tensor(name) for name in f.keys()}


def save_file(tensors: Mapping[str, torch.Tensor], path: "str | Path",
              metadata: Optional[Mapping[str, str]] = None) -> None:
    """Writes tensors (any device, any layout) as one safetensors file, names sorted."""
    if metadata is not None and not all(isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
        raise SafetensorsError("bad_metadata", "metadata must map strings to strings")
    header: Dict[str, object] = {}
    if metadata:
        header["__metadata__"] = dict(metadata)
    names = sorted(tensors)
    offset = 0
    for name in names:
        if name == "__metadata__":
            raise SafetensorsError("bad_name", "'__metadata__' cannot name a tensor")
        tensor = tensors[name]
        if tensor.dtype not in _TAG_OF_DTYPE:
            raise SafetensorsError("unsupported_dtype", f"tensor {name!r} has dtype {tensor.dtype}; "
                                                        f"supported: {', '.join(map(str, _TAG_OF_DTYPE))}")
        size = tensor.numel() * tensor.element_size()
        header[name] = {"dtype": _TAG_OF_DTYPE[tensor.dtype], "shape": list(tensor.shape),
                        "data_offsets": [offset, offset + size]}
        offset += size
    raw = json.dumps(header, separators=(",", ":")).encode("utf-8")
    raw += b" " * (-len(raw) % 8)  # the data section starts 8-byte aligned, as the Rust writer does

    tmp = Path(f"{path}.tmp-{os.getpid()}")
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(raw)))
        f.write(raw)
        for name in names:
            f.write(_tensor_bytes(tensors[name]))
    os.replace(tmp, path)  # never leave a half-written file under the final name


def _tensor_bytes(tensor: torch.Tensor) -> bytes:
    t = tensor.detach().to("cpu").contiguous()
    if t.dtype == torch.bfloat16:
        t = t.view(torch.int16)  # same bits; numpy has no bfloat16
    elif t.dtype == torch.bool:
        t = t.to(torch.uint8)
    array = t.numpy()
    return array.astype(array.dtype.newbyteorder("<"), copy=False).tobytes()


# ----------------------------------------------------------------------------------------------
# Checkpoint folders: one model.safetensors, or shards listed in model.safetensors.index.json.

INDEX_NAME = "model.safetensors.index.json"
SINGLE_NAME = "model.safetensors"


class ShardedCheckpoint:
    """All tensors of a Hugging Face checkpoint folder, by name, read on demand."""

    def __init__(self, folder: "str | Path"):
        self.folder = Path(folder)
        if not self.folder.is_dir():
            raise CheckpointError("checkpoint_missing", f"checkpoint folder not found: {self.folder}")
        index_path = self.folder / INDEX_NAME
        single_path = self.folder / SINGLE_NAME
        self._files: Dict[str, SafetensorsFile] = {}
        self._where: Dict[str, str] = {}
        if index_path.is_file():
            try:
                index = json.loads(index_path.read_text(encoding="utf-8"))
                weight_map = index["weight_map"]
                assert isinstance(weight_map, dict)
            except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, AssertionError) as error:
                raise CheckpointError("index_invalid", f"{index_path} is not a valid index "
                                                       f"(needs a 'weight_map' object): {error}") from error
            for name, file_name in weight_map.items():
                if not isinstance(file_name, str) or "/" in file_name or "\\" in file_name:
                    raise CheckpointError("index_invalid", f"{index_path}: bad shard name {file_name!r}")
                if file_name not in self._files:
                    shard = self.folder / file_name
                    if not shard.is_file():
                        raise CheckpointError("shard_missing", f"{index_path} lists {file_name}, "
                                                               f"which is not in {self.folder}")
                    self._files[file_name] = SafetensorsFile(shard)
                if name not in self._files[file_name]:
                    raise CheckpointError("index_invalid", f"{index_path} places {name!r} in {file_name}, "
                                                           "which does not hold it")
                self._where[name] = file_name
        elif single_path.is_file():
            self._files[SINGLE_NAME] = SafetensorsFile(single_path)
            self._where = {name: SINGLE_NAME for name in self._files[SINGLE_NAME].keys()}
        else:
            present = sorted(p.name for p in self.folder.iterdir())[:20]
            hint = (" (pytorch_model.bin checkpoints such as MolmoE-1B's are not supported)"
                    if any(p.endswith(".bin") for p in present) else "")
            raise CheckpointError("weights_missing", f"{self.folder} has neither {SINGLE_NAME} nor {INDEX_NAME}"
                                                     f"{hint}; found: {', '.join(present) or 'nothing'}")

    def keys(self) -> List[str]:
        return list(self._where)

    def info(self, name: str) -> TensorInfo:
        return self._files[self._where[name]].info(name)

    def get_tensor(self, name: str) -> torch.Tensor:
        return self._files[self._where[name]].get_tensor(name)

    def items(self) -> Iterator[Tuple[str, torch.Tensor]]:
        for name in self._where:
            yield name, self.get_tensor(name)


def save_sharded(tensors: Mapping[str, torch.Tensor], folder: "str | Path", num_shards: int,
                 metadata: Optional[Mapping[str, str]] = None) -> List[Path]:
    """Writes `num_shards` files model-0000i-of-0000n.safetensors plus the index, HF style."""
    assert num_shards >= 1, f"num_shards must be >= 1, got {num_shards}"
    folder = Path(folder)
    names = sorted(tensors)
    if num_shards == 1:
        save_file(tensors, folder / SINGLE_NAME, metadata)
        return [folder / SINGLE_NAME]
    per_shard = -(-len(names) // num_shards)
    weight_map: Dict[str, str] = {}
    paths = []
    for i in range(num_shards):
        chunk = names[i * per_shard:(i + 1) * per_shard]
        file_name = f"model-{i + 1:05d}-of-{num_shards:05d}.safetensors"
        save_file({n: tensors[n] for n in chunk}, folder / file_name, metadata)
        weight_map.update({n: file_name for n in chunk})
        paths.append(folder / file_name)
    total = sum(t.numel() * t.element_size() for t in tensors.values())
    index = {"metadata": {"total_size": total}, "weight_map": weight_map}
    (folder / INDEX_NAME).write_text(json.dumps(index, indent=2) + "\n", encoding="utf-8")
    return paths
