"""The decoder graph written with onnxruntime's fused operators (`--decoder-ops fused`).

torch.onnx.export (the "plain" decoder) spells attention out as MatMul / Softmax / Concat chains
with the GQA head repetition materialised, RoPE as slices and concats, and RMSNorm as five
elementwise ops. onnxruntime's GPU kernels (WebGPU above all) are tuned for its own contrib
operators instead, so this module writes the same decoder directly with onnx.helper, from the same
PyTorch module's weights (torch 1.13 cannot export contrib ops), as:

    SimplifiedLayerNormalization (RMSNorm; ai.onnx domain, an onnxruntime extension)
    SkipSimplifiedLayerNormalization (com.microsoft: residual add + RMSNorm in one kernel)
    MatMul + Add for the fused q|k|v projection (Qwen2's qkv bias kept), MatMul for the others
    GroupQueryAttention (com.microsoft): packed q|k|v, its own rotary embedding (do_rotary, the
        rotate-half layout Qwen2 uses, cos/sin tables from rope_theta), causal attention over the
        past and new keys without repeating kv heads, and the present = past + new cache
    SwiGLU as Split + Sigmoid + Mul (onnxruntime has no fused SwiGLU kernel for a dense MLP)

Same math as model.py's `Molmo.decode` (and the plain graph): pre-norm Qwen2 blocks, keys cached
after RoPE and before GQA repetition, `[B, kv_heads, total, head_dim]` present tensors, logits cut
by `num_logits_to_keep` before the final norm and the LM head, logits cast to float32.

The I/O contract is the plain decoder's (onnx_graphs.graph_specs), so the engine drives both kinds
alike; the differences, recorded in the manifest (bundle_manifest.decoder_entry):
- Positions come from attention_mask, not position_ids: GroupQueryAttention rotates the new tokens
  at positions `sum(attention_mask) - sequence_length ...`, i.e. right after the cached ones. That
  is what position_ids holds whenever the mask is all ones (no padding), which is how the engine
  calls the decoder (batch 1). position_ids stays a declared input so both kinds take the same feeds.
- Padding: only right padding can be expressed (GroupQueryAttention reads a length per row); a
  mask with zeros before ones (left padding) is not supported.
- Supported flavour: Molmo-7B-D / 72B (Qwen2: pre-norm, no q/k norm, no qkv clipping). Molmo-7B-O
  (OLMo: post-norm, q/k norm over the full width) is refused with ExportError("unsupported_model").
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper

from .config import MolmoConfig
from .export_errors import ExportError
from .external_data import ALIGNMENT, AUTO_THRESHOLD_BYTES, MIN_EXTERNAL_BYTES
from .model import Molmo
from .onnx_graphs import LOGITS_TO_KEEP, GraphSpec, past_names, present_names

MS_DOMAIN = "com.microsoft"
DECODER_OPS = ("plain", "fused")
# The contrib operators the fused graph uses, for the manifest and the docs.
FUSED_OPERATORS = ("GroupQueryAttention", "SkipSimplifiedLayerNormalization", "SimplifiedLayerNormalization")
# onnxruntime registers SimplifiedLayerNormalization in the ai.onnx domain although ONNX has no such
# operator; onnx.checker therefore rejects it there (see checkable_copy).
ORT_OPS_IN_ONNX_DOMAIN = ("SimplifiedLayerNormalization",)

_ONNX_TYPES = {torch.float32: TensorProto.FLOAT, torch.float16: TensorProto.FLOAT16}
_NUMPY_TYPES = {torch.float32: np.float32, torch.float16: np.float16}


def check_supported(config: MolmoConfig) -> None:
    """Raises ExportError("unsupported_model") for decoder flavours the fused graph does not cover."""
    reasons = []
    if config.norm_after:
        reasons.append("post-norm blocks (norm_after)")
    if config.attention_layer_norm:
        reasons.append("q/k RMSNorm (attention_layer_norm)")
    if config.clip_qkv is not None:
        reasons.append("qkv clipping (clip_qkv)")
    if config.num_attention_heads * config.head_dim != config.hidden_size:
        reasons.append("num_heads * head_dim != d_model")
    if config.head_dim % 2:
        reasons.append("an odd head_dim (RoPE needs pairs)")
    if reasons:
        raise ExportError("unsupported_model",
                          f"--decoder-ops fused covers the Qwen2-style decoder of Molmo-7B-D / 72B; this checkpoint "
                          f"has {', '.join(reasons)}. Export it with --decoder-ops plain.")


def rope_tables(config: MolmoConfig) -> "tuple[np.ndarray, np.ndarray]":
    """cos and sin [max_position_embeddings, head_dim / 2], float32, with model.rope_cos_sin's
    expressions (inv_freq and the angle products in float32, so the angles are bit-identical)."""
    hd = config.head_dim
    inv_freq = 1.0 / (config.rope_theta ** (torch.arange(0, hd, 2, dtype=torch.float32) / hd))
    positions = torch.arange(config.max_position_embeddings, dtype=torch.float32)
    angles = positions[:, None] * inv_freq[None, :]
    return angles.cos().numpy(), angles.sin().numpy()


class _Weights:
    """Initializers, inline or streamed into one external data file (aligned, as place_weights does)."""

    def __init__(self, data_path: Optional[Path]):
        self.data_path = data_path
        self.tensors: List[TensorProto] = []
        self._file = open(data_path, "wb") if data_path is not None else None

    def add(self, name: str, array: np.ndarray) -> str:
        array = np.ascontiguousarray(array)
        if self._file is None or array.nbytes < MIN_EXTERNAL_BYTES:
            self.tensors.append(numpy_helper.from_array(array, name))
            return name
        offset = self._file.tell()
        if offset % ALIGNMENT:
            self._file.write(b"\0" * (ALIGNMENT - offset % ALIGNMENT))
            offset = self._file.tell()
        self._file.write(array.tobytes())
        tensor = TensorProto()
        tensor.name = name
        tensor.data_type = helper.np_dtype_to_tensor_dtype(array.dtype) if hasattr(helper, "np_dtype_to_tensor_dtype") \
            else onnx.mapping.NP_TYPE_TO_TENSOR_TYPE[array.dtype]
        tensor.dims.extend(array.shape)
        tensor.data_location = TensorProto.EXTERNAL
        assert self.data_path is not None
        for key, value in (("location", self.data_path.name), ("offset", str(offset)), ("length", str(array.nbytes))):
            entry = tensor.external_data.add()
            entry.key, entry.value = key, value
        self.tensors.append(tensor)
        return name

    def close(self) -> None:
        if self._file is not None:
            self._file.close()


def _weight_bytes(model: Molmo, dtype: torch.dtype, layers: int) -> int:
    element = torch.finfo(dtype).bits // 8
    blocks = list(model.transformer.blocks)[:layers]
    count = sum(p.numel() for block in blocks for p in block.parameters())
    count += model.transformer.ff_out.weight.numel() + model.transformer.ln_f.weight.numel()
    return count * element


def build_fused_decoder(model: Molmo, spec: GraphSpec, path: Path, opset: int, external: str = "auto",
                        num_layers: Optional[int] = None) -> Optional[Path]:
    """Writes the fused decoder of `model` (its parameters' dtype: float32 or float16) to `path`.

    `spec` is the decoder's GraphSpec (the same contract as the plain graph). Weights go to
    `<path>_data` when `external` is "always", or "auto" and they exceed 1.8 GB; returns that file or
    None. `num_layers` (default: all) builds the graph over the first layers only - the benchmark
    uses 0 to time the LM head alone; such a graph has that many past/present pairs.
    """
    config = model.config
    check_supported(config)
    weight = model.transformer.ff_out.weight
    dtype = weight.dtype
    if dtype not in _ONNX_TYPES:
        raise ExportError("unsupported_dtype", f"the fused decoder is written in float32 or float16, not {dtype}")
    layers = config.num_hidden_layers if num_layers is None else num_layers
    elem, np_dtype = _ONNX_TYPES[dtype], _NUMPY_TYPES[dtype]
    d, hd, heads, kv = config.hidden_size, config.head_dim, config.num_attention_heads, config.n_kv_heads
    eps = float(config.layer_norm_eps)
    big = external == "always" or (external == "auto" and _weight_bytes(model, dtype, layers) > AUTO_THRESHOLD_BYTES)
    weights = _Weights(path.with_name(path.name + "_data") if big else None)
    nodes: List[onnx.NodeProto] = []

    def w(name: str, tensor: torch.Tensor, transpose: bool = False) -> str:
        value = tensor.detach()
        if transpose:
            value = value.t()
        return weights.add(name, value.to(dtype).cpu().numpy().astype(np_dtype, copy=False))

    def const(name: str, array: np.ndarray) -> str:
        return weights.add(name, array)

    def node(op: str, inputs: List[str], outputs: List[str], domain: str = "", **attrs) -> None:
        nodes.append(helper.make_node(op, inputs, outputs, name=f"{outputs[0]}/{op}", domain=domain, **attrs))

    try:
        # Sequence lengths for GroupQueryAttention, from the mask: seqlens_k = sum(mask) - 1 per row
        # (the index of the last real key), total_sequence_length = the mask's width.
        node("ReduceSum", ["attention_mask", const("reduce_axis_1", np.array([1], np.int64))], ["mask_sum"], keepdims=0)
        node("Sub", ["mask_sum", const("one_i64", np.array(1, np.int64))], ["seqlens_k_i64"])
        node("Cast", ["seqlens_k_i64"], ["seqlens_k"], to=TensorProto.INT32)
        node("Shape", ["attention_mask"], ["mask_shape"])
        node("Gather", ["mask_shape", const("index_1", np.array(1, np.int64))], ["total_i64"], axis=0)
        node("Cast", ["total_i64"], ["total_sequence_length"], to=TensorProto.INT32)
        cos, sin = rope_tables(config)
        const("cos_cache", cos.astype(np_dtype))
        const("sin_cache", sin.astype(np_dtype))
        ff_half = config.intermediate_size // 2
        split_sizes = const("swiglu_split", np.array([ff_half, ff_half], np.int64))

        residual, pending = "inputs_embeds", None  # pending: the last block's MLP output, not yet added
        for i in range(layers):
            block = model.transformer.blocks[i]
            p = f"layers.{i}"
            if pending is None:
                node("SimplifiedLayerNormalization", [residual, w(f"{p}.attn_norm.weight", block.attn_norm.weight)],
                     [f"{p}.attn_norm"], axis=-1, epsilon=eps, stash_type=1)
            else:
                node("SkipSimplifiedLayerNormalization", [pending, residual, w(f"{p}.attn_norm.weight", block.attn_norm.weight)],
                     [f"{p}.attn_norm", "", "", f"{p}.residual_in"], domain=MS_DOMAIN, epsilon=eps)
                residual = f"{p}.residual_in"
            node("MatMul", [f"{p}.attn_norm", w(f"{p}.att_proj.weight_t", block.att_proj.weight, True)], [f"{p}.qkv_mm"])
            qkv = f"{p}.qkv_mm"
            if block.att_proj.bias is not None:
                node("Add", [qkv, w(f"{p}.att_proj.bias", block.att_proj.bias)], [f"{p}.qkv"])
                qkv = f"{p}.qkv"
            past_k, past_v = past_names(layers)[2 * i], past_names(layers)[2 * i + 1]
            present_k, present_v = present_names(layers)[2 * i], present_names(layers)[2 * i + 1]
            node("GroupQueryAttention", [qkv, "", "", past_k, past_v, "seqlens_k", "total_sequence_length",
                                         "cos_cache", "sin_cache"],
                 [f"{p}.attention", present_k, present_v], domain=MS_DOMAIN,
                 num_heads=heads, kv_num_heads=kv, do_rotary=1, rotary_interleaved=0, scale=1.0 / math.sqrt(hd))
            node("MatMul", [f"{p}.attention", w(f"{p}.attn_out.weight_t", block.attn_out.weight, True)], [f"{p}.attn_out"])
            node("SkipSimplifiedLayerNormalization", [f"{p}.attn_out", residual, w(f"{p}.ff_norm.weight", block.ff_norm.weight)],
                 [f"{p}.ff_norm", "", "", f"{p}.residual_mid"], domain=MS_DOMAIN, epsilon=eps)
            residual = f"{p}.residual_mid"
            # ff_proj rows are [up | gate]; the MLP is ff_out(silu(gate) * up), as model.DecoderBlock.
            node("MatMul", [f"{p}.ff_norm", w(f"{p}.ff_proj.weight_t", block.ff_proj.weight, True)], [f"{p}.ff_proj"])
            node("Split", [f"{p}.ff_proj", split_sizes], [f"{p}.up", f"{p}.gate"], axis=-1)
            node("Sigmoid", [f"{p}.gate"], [f"{p}.gate_sigmoid"])
            node("Mul", [f"{p}.gate", f"{p}.gate_sigmoid"], [f"{p}.gate_silu"])
            node("Mul", [f"{p}.gate_silu", f"{p}.up"], [f"{p}.swiglu"])
            node("MatMul", [f"{p}.swiglu", w(f"{p}.ff_out.weight_t", block.ff_out.weight, True)], [f"{p}.mlp_out"])
            pending = f"{p}.mlp_out"

        # The last k positions (k = num_logits_to_keep, 0 = all): Slice(starts = -k) on the sequence
        # axis, before the final residual add + norm and the LM head, as the plain graph cuts them.
        node("Reshape", [LOGITS_TO_KEEP, const("shape_1", np.array([1], np.int64))], ["keep_1d"])
        node("Neg", ["keep_1d"], ["keep_start"])
        ends, axes = const("slice_end", np.array([np.iinfo(np.int64).max], np.int64)), const("slice_axis", np.array([1], np.int64))
        node("Slice", [residual, "keep_start", ends, axes], ["kept_residual"])
        ln_f = w("ln_f.weight", model.transformer.ln_f.weight)
        if pending is None:
            node("SimplifiedLayerNormalization", ["kept_residual", ln_f], ["final_norm"], axis=-1, epsilon=eps, stash_type=1)
        else:
            node("Slice", [pending, "keep_start", ends, axes], ["kept_mlp_out"])
            node("SkipSimplifiedLayerNormalization", ["kept_mlp_out", "kept_residual", ln_f], ["final_norm"],
                 domain=MS_DOMAIN, epsilon=eps)
        head = w("lm_head.weight_t", model.transformer.ff_out.weight, True)
        if dtype == torch.float32:
            node("MatMul", ["final_norm", head], ["logits"])
        else:
            node("MatMul", ["final_norm", head], ["logits_half"])
            node("Cast", ["logits_half"], ["logits"], to=TensorProto.FLOAT)
    finally:
        weights.close()

    io_types = {"float32": TensorProto.FLOAT, "float16": TensorProto.FLOAT16, "int64": TensorProto.INT64}

    def value_info(tensor) -> onnx.ValueInfoProto:
        return helper.make_tensor_value_info(tensor.name, io_types[tensor.dtype], list(tensor.shape))

    kept_past, kept_present = set(past_names(layers)), set(present_names(layers))
    inputs = [t for t in spec.inputs if not t.name.startswith("past_key_values.") or t.name in kept_past]
    outputs = [t for t in spec.outputs if not t.name.startswith("present.") or t.name in kept_present]
    graph = helper.make_graph(nodes, "molmo_decoder_fused", [value_info(t) for t in inputs],
                              [value_info(t) for t in outputs], initializer=weights.tensors)
    onnx_model = helper.make_model(graph, producer_name="molmo_onnx.fused_decoder",
                                   opset_imports=[helper.make_opsetid("", opset), helper.make_opsetid(MS_DOMAIN, 1)])
    onnx_model.ir_version = min(onnx_model.ir_version, 8)  # onnxruntime 1.14+ reads IR 8 (opset 17's)
    path.write_bytes(onnx_model.SerializeToString())
    return weights.data_path


def checkable_copy(path: Path) -> Path:
    """A copy of the fused graph that onnx.checker accepts, beside `path` (same folder, so external data
    resolves): onnxruntime's SimplifiedLayerNormalization moved from the ai.onnx domain, where the
    checker has no schema for it, to com.microsoft, where it checks none. The caller deletes it."""
    model = onnx.load(str(path), load_external_data=False)
    for n in model.graph.node:
        if n.domain in ("", "ai.onnx") and n.op_type in ORT_OPS_IN_ONNX_DOMAIN:
            n.domain = MS_DOMAIN
    copy = path.with_name(f".{path.stem}.checker.onnx")
    copy.write_bytes(model.SerializeToString())
    return copy


def op_counts(path: Path) -> Dict[str, int]:
    """How many nodes of each (domain-qualified) type a saved graph has, for tests and the manifest."""
    model = onnx.load(str(path), load_external_data=False)
    counts: Dict[str, int] = {}
    for n in model.graph.node:
        key = f"{n.domain}.{n.op_type}" if n.domain else n.op_type
        counts[key] = counts.get(key, 0) + 1
    return counts
