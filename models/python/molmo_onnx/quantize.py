"""Weight-only int4 / int8 quantisation of the decoder's matrix multiplications (MatMulNBits).

Each `MatMul(x, W)` whose W is a float32 initializer [K, N] used by that node alone becomes
onnxruntime's `com.microsoft.MatMulNBits(x, B, scales, zero_points)`: W is quantised block-wise
along K (`block_size` values per block, one float32 scale and one zero point per block and output
column), asymmetric (the block's range stretched to include 0), and dequantised inside the kernel
as (q - zero_point) * scale. Activations stay float32. Layout (onnxruntime's ContribOperators.md):

    B            uint8 [N, k_blocks, block_size * bits / 8], 4 bits: element 2i in the low nibble
    scales       float32 [N, k_blocks]
    zero_points  uint8 [N, ceil(k_blocks * bits / 8)], packed like B

Implemented here in numpy because Debian has no onnxruntime quantisation tooling; the layout is
checked against onnxruntime-node's own kernel by the tests (tests/test_export.py).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Tuple

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from .export_errors import ExportError
from .external_data import AUTO_THRESHOLD_BYTES

MS_DOMAIN = "com.microsoft"
SUPPORTED_BITS = (4, 8)
# onnxruntime's "int8 compute" level: the CPU kernel quantises activations per block to int8 and
# uses integer dot products (the fast path for CPUs); other EPs treat it as a hint.
DEFAULT_ACCURACY_LEVEL = 4


def quantize_blocks(weight_t: np.ndarray, bits: int, block_size: int) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """weight_t [N, K] float32 -> (B packed uint8, scales float32 [N, k_blocks], zero_points packed uint8)."""
    n, k = weight_t.shape
    k_blocks = -(-k // block_size)
    padded = np.zeros((n, k_blocks * block_size), np.float32)
    padded[:, :k] = weight_t  # padding quantises to the zero point, i.e. dequantises to exactly 0
    blocks = padded.reshape(n, k_blocks, block_size)
    qmax = 2**bits - 1
    low = np.minimum(blocks.min(axis=-1), 0.0)
    high = np.maximum(blocks.max(axis=-1), 0.0)
    scales = ((high - low) / qmax).astype(np.float32)
    scales[scales == 0] = 1.0  # an all-zero block: any scale dequantises it to 0
    zero_points = np.clip(np.round(-low / scales), 0, qmax).astype(np.uint8)
    q = np.clip(np.round(blocks / scales[..., None]) + zero_points[..., None], 0, qmax).astype(np.uint8)
    if bits == 8:
        return q, scales, zero_points
    packed = (q[..., 0::2] | (q[..., 1::2] << 4)).astype(np.uint8)
    if k_blocks % 2:
        zero_points = np.concatenate([zero_points, np.zeros((n, 1), np.uint8)], axis=1)
    packed_zp = (zero_points[:, 0::2] | (zero_points[:, 1::2] << 4)).astype(np.uint8)
    return packed, scales, packed_zp


def dequantize_blocks(packed: np.ndarray, scales: np.ndarray, zero_points: np.ndarray, bits: int,
                      k: int) -> np.ndarray:
    """The inverse layout: back to W^T [N, K] float32 as the kernel sees it (for tests and checks)."""
    n, k_blocks = scales.shape
    if bits == 4:
        q = np.empty(packed.shape[:2] + (packed.shape[2] * 2,), np.uint8)
        q[..., 0::2], q[..., 1::2] = packed & 0x0F, packed >> 4
        zp = np.empty((n, zero_points.shape[1] * 2), np.uint8)
        zp[:, 0::2], zp[:, 1::2] = zero_points & 0x0F, zero_points >> 4
        zp = zp[:, :k_blocks]
    else:
        q, zp = packed, zero_points
    values = (q.astype(np.float32) - zp[..., None].astype(np.float32)) * scales[..., None]
    return values.reshape(n, -1)[:, :k]


def quantize_matmuls(model: onnx.ModelProto, bits: int, block_size: int,
                     accuracy_level: int = DEFAULT_ACCURACY_LEVEL) -> int:
    """Rewrites `model` in place (weights loaded); returns how many MatMuls were quantised."""
    if bits not in SUPPORTED_BITS:
        raise ExportError("bad_option", f"quantisation bits must be one of {SUPPORTED_BITS}, got {bits}")
    if block_size < 16 or block_size & (block_size - 1):
        raise ExportError("bad_option", f"block size must be a power of two >= 16, got {block_size}")
    graph = model.graph
    initializers = {t.name: t for t in graph.initializer}
    uses = Counter(name for node in graph.node for name in node.input)
    replaced = {}
    count = 0
    nodes = []
    for node in graph.node:
        weight = initializers.get(node.input[1]) if node.op_type == "MatMul" and len(node.input) == 2 else None
        if (weight is None or uses[weight.name] != 1 or weight.data_type != TensorProto.FLOAT
                or len(weight.dims) != 2 or weight.dims[0] < 16):
            nodes.append(node)
            continue
        k, n = weight.dims
        packed, scales, zero_points = quantize_blocks(numpy_helper.to_array(weight).T, bits, block_size)
        base = f"{weight.name}::q{bits}"
        tensors = [numpy_helper.from_array(packed, f"{base}.B"), numpy_helper.from_array(scales, f"{base}.scales"),
                   numpy_helper.from_array(zero_points, f"{base}.zero_points")]
        replaced[weight.name] = tensors
        nodes.append(helper.make_node("MatMulNBits", [node.input[0]] + [t.name for t in tensors], list(node.output),
                                      name=(node.name or weight.name) + f"/MatMulNBits{bits}", domain=MS_DOMAIN,
                                      K=k, N=n, bits=bits, block_size=block_size, accuracy_level=accuracy_level))
        count += 1
    if not count:
        return 0
    kept = [t for t in graph.initializer if t.name not in replaced]
    del graph.initializer[:]
    graph.initializer.extend(kept + [t for tensors in replaced.values() for t in tensors])
    del graph.node[:]
    graph.node.extend(nodes)
    if not any(op.domain == MS_DOMAIN for op in model.opset_import):
        model.opset_import.append(helper.make_opsetid(MS_DOMAIN, 1))
    return count


def quantize_file(model_path: Path, bits: int, block_size: int,
                  accuracy_level: int = DEFAULT_ACCURACY_LEVEL) -> int:
    """quantize_matmuls on a saved model, weights inline or external (e.g. torch's one file per tensor).

    The quantised model is saved inline when small, else with its weights in one temporary data file
    that external_data.place_weights then renames into place. Returns the number of MatMuls quantised.
    """
    folder = model_path.parent
    header = onnx.load(str(model_path), load_external_data=False)
    old_files = {folder / entry.value for t in header.graph.initializer if t.data_location == TensorProto.EXTERNAL
                 for entry in t.external_data if entry.key == "location"}
    model = onnx.load(str(model_path))  # reads the external data too
    count = quantize_matmuls(model, bits, block_size, accuracy_level)
    for path in old_files:
        path.unlink()
    size = sum(len(t.raw_data) for t in model.graph.initializer)
    if size > AUTO_THRESHOLD_BYTES:
        onnx.save_model(model, str(model_path), save_as_external_data=True, all_tensors_to_one_file=True,
                        location=model_path.name + ".quantized_data", size_threshold=1024)
    else:
        onnx.save(model, str(model_path))
    return count
