"""Where a graph's weights live: inside the .onnx file, or in one `<graph>.onnx_data` file beside it.

A protobuf message cannot exceed 2 GB, so large graphs keep their tensors in an external file.
torch.onnx.export (1.13) handles > 2 GB itself by writing every tensor to its own file next to the
model; `place_weights` gathers those, or the inline tensors, into a single `<graph>.onnx_data`
(the layout of the ONNX-community repos, which onnxruntime maps with one file handle) without
holding more than one tensor in memory beyond what the model file itself holds.

Modes: "auto" moves the weights out when they exceed AUTO_THRESHOLD_BYTES (1.8 GB, leaving room
for the graph itself under the 2 GB limit); "always" moves them out whatever the size (tests use
it on the tiny model); "never" keeps them inline and fails if that cannot work.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import List, Optional

import onnx
from onnx import TensorProto

from .export_errors import ExportError

AUTO_THRESHOLD_BYTES = int(1.8e9)
PROTOBUF_LIMIT_BYTES = 2**31 - 1
EXTERNAL_DATA_MODES = ("auto", "always", "never")
# Tensors smaller than this stay inline even in external mode (scalars, shape constants), as
# onnx's own size_threshold does; offsets are aligned so that the data file can be memory-mapped.
MIN_EXTERNAL_BYTES = 1024
ALIGNMENT = 4096
_COPY_CHUNK = 64 * 1024 * 1024


def _external_info(tensor: TensorProto) -> dict:
    return {entry.key: entry.value for entry in tensor.external_data}


def _tensor_bytes(tensor: TensorProto) -> int:
    if tensor.data_location == TensorProto.EXTERNAL:
        info = _external_info(tensor)
        return int(info.get("length", 0))
    return len(tensor.raw_data)


def _weight_tensors(model: onnx.ModelProto) -> List[TensorProto]:
    """Initializers plus the tensors of Constant nodes: everything that can hold weights."""
    tensors = list(model.graph.initializer)
    for node in model.graph.node:
        if node.op_type == "Constant":
            tensors += [a.t for a in node.attribute if a.name == "value" and a.type == onnx.AttributeProto.TENSOR]
    return tensors


def weights_bytes(model_path: Path) -> int:
    """Total bytes of the weights of a saved model, inline or external (nothing is loaded)."""
    model = onnx.load(str(model_path), load_external_data=False)
    return sum(_tensor_bytes(t) for t in _weight_tensors(model))


def place_weights(model_path: Path, mode: str) -> Optional[Path]:
    """Rewrites the model at `model_path` so its weights follow `mode`; returns the data file or None.

    Raises ExportError("weights_too_large") when mode is "never" and the weights cannot fit inline.
    """
    if mode not in EXTERNAL_DATA_MODES:
        raise ExportError("bad_option", f"--external-data must be one of {', '.join(EXTERNAL_DATA_MODES)}, got {mode!r}")
    folder = model_path.parent
    model = onnx.load(str(model_path), load_external_data=False)
    tensors = _weight_tensors(model)
    total = sum(_tensor_bytes(t) for t in tensors)
    already_external = [t for t in tensors if t.data_location == TensorProto.EXTERNAL]
    external = mode == "always" or (mode == "auto" and total > AUTO_THRESHOLD_BYTES) or bool(already_external)
    if mode == "never" and (external or total > AUTO_THRESHOLD_BYTES):
        raise ExportError("weights_too_large",
                          f"{model_path.name} holds {total / 1e9:.2f} GB of weights, more than fits in one .onnx "
                          "file (2 GB protobuf limit); use --external-data auto")
    if not external:
        return None

    data_path = model_path.with_name(model_path.name + "_data")  # vision_encoder.onnx_data
    # Written beside and renamed at the end, so a model whose tensors already live in data_path
    # is read from the old file while the new one is written.
    writing = data_path.with_name(data_path.name + ".partial")
    scattered: List[Path] = []
    with open(writing, "wb") as out:
        for tensor in tensors:
            size = _tensor_bytes(tensor)
            if size < MIN_EXTERNAL_BYTES and tensor.data_location != TensorProto.EXTERNAL:
                continue
            offset = out.tell()
            if offset % ALIGNMENT:
                out.write(b"\0" * (ALIGNMENT - offset % ALIGNMENT))
                offset = out.tell()
            if tensor.data_location == TensorProto.EXTERNAL:
                info = _external_info(tensor)
                source = folder / info["location"]
                start, length = int(info.get("offset", 0)), int(info.get("length", source.stat().st_size))
                with open(source, "rb") as src:
                    src.seek(start)
                    remaining = length
                    while remaining:
                        chunk = src.read(min(_COPY_CHUNK, remaining))
                        if not chunk:
                            raise ExportError("export_failed", f"{source} is shorter than its tensor {tensor.name}")
                        out.write(chunk)
                        remaining -= len(chunk)
                scattered.append(source)
            else:
                length = len(tensor.raw_data)
                out.write(tensor.raw_data)
                tensor.ClearField("raw_data")
            del tensor.external_data[:]
            tensor.data_location = TensorProto.EXTERNAL
            for key, value in (("location", data_path.name), ("offset", str(offset)), ("length", str(length))):
                entry = tensor.external_data.add()
                entry.key, entry.value = key, value
    serialized = model.SerializeToString()
    if len(serialized) > PROTOBUF_LIMIT_BYTES:
        raise ExportError("weights_too_large", f"{model_path.name}: the graph alone exceeds 2 GB")
    os.replace(writing, data_path)
    model_path.write_bytes(serialized)
    for source in set(scattered):
        if source.resolve() != data_path.resolve() and source.exists():
            os.remove(source)
    return data_path
