"""The three ONNX graphs of a bundle: their names, tensor contracts, PyTorch wrappers and export.

    vision_encoder          crops [num_crops, 576, 588] f32 + image_masks [num_crops, 576] f32
                            -> image_features [num_crops, 144, d]
    embed_tokens            input_ids [batch, sequence] i64 -> inputs_embeds [batch, sequence, d]
    decoder_model_merged    inputs_embeds [batch, sequence, d], attention_mask [batch, total] i64,
                            position_ids [batch, sequence] i64, num_logits_to_keep [] i64,
                            past_key_values.{i}.key / .value [batch, kv_heads, past, head_dim]
                            -> logits [batch, kept, vocab] f32, present.{i}.key / .value
                            [batch, kv_heads, total, head_dim]   (total = past + sequence)

The names follow the ONNX-community / Optimum layout for decoders with a KV cache. Prefill feeds
an empty past (past = 0), so one "merged" graph serves prefill and decode.

num_logits_to_keep is Hugging Face's `logits_to_keep`, an int64 scalar: 0 gives logits for every
input position (kept = sequence), k > 0 for the last min(k, sequence). The hidden states are cut
before the final norm and the LM head: a prefill that needs only the next token (k = 1) skips the
LM head over the prompt and never allocates [sequence, vocab] logits (152064 float32 per position
for Molmo-7B-D, ~730 MB for a 1,200-token prompt).

Data types: the vision inputs are always float32 (what the preprocessor produces; the graph casts
them) and logits are always float32 (a cast after the LM head), so the engine's own tensors never
change with the bundle's dtype. Everything between - image_features, inputs_embeds and the KV
cache - has the bundle's dtype (float16 in an fp16 bundle).
"""

from __future__ import annotations

import inspect
import logging
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Tuple, Union

import onnx
import torch
import torch.nn as nn

from .config import MolmoConfig
from .fp16_cpu import float16_cpu_kernels
from .model import Molmo

log = logging.getLogger("molmo_onnx.export")

Dim = Union[int, str]

# Symbolic axis names, shared by every graph that has the axis.
NUM_CROPS = "num_crops"
BATCH = "batch_size"
SEQUENCE = "sequence_length"
PAST = "past_sequence_length"
TOTAL = "total_sequence_length"
# The logits' sequence axis: sequence_length, or num_logits_to_keep when that is between 1 and it.
KEPT = "kept_sequence_length"
LOGITS_TO_KEEP = "num_logits_to_keep"

VISION_ENCODER = "vision_encoder"
EMBED_TOKENS = "embed_tokens"
DECODER = "decoder_model_merged"
GRAPH_KEYS = (VISION_ENCODER, EMBED_TOKENS, DECODER)

# Torch dtype <-> the dtype strings the manifest uses (onnxruntime-node's tensor type names).
TORCH_DTYPES = {"float32": torch.float32, "float16": torch.float16, "int64": torch.int64}


@dataclass(frozen=True)
class TensorSpec:
    """One graph input or output: name, element type and shape (str = symbolic axis)."""

    name: str
    dtype: str
    shape: Tuple[Dim, ...]

    def to_json(self) -> dict:
        return {"name": self.name, "dtype": self.dtype, "shape": list(self.shape)}


@dataclass(frozen=True)
class GraphSpec:
    key: str
    inputs: Tuple[TensorSpec, ...]
    outputs: Tuple[TensorSpec, ...]

    @property
    def file_name(self) -> str:
        return f"{self.key}.onnx"

    def dynamic_axes(self) -> Dict[str, Dict[int, str]]:
        return {t.name: {i: d for i, d in enumerate(t.shape) if isinstance(d, str)}
                for t in self.inputs + self.outputs}


def past_names(layers: int) -> List[str]:
    return [f"past_key_values.{i}.{kind}" for i in range(layers) for kind in ("key", "value")]


def present_names(layers: int) -> List[str]:
    return [f"present.{i}.{kind}" for i in range(layers) for kind in ("key", "value")]


def graph_specs(config: MolmoConfig, dtype: str) -> Dict[str, GraphSpec]:
    """The input/output contract of each graph for `config` in `dtype` ("float32" or "float16")."""
    vc = config.vision
    d, kv, hd, layers = config.hidden_size, config.n_kv_heads, config.head_dim, config.num_hidden_layers
    vision = GraphSpec(
        VISION_ENCODER,
        inputs=(TensorSpec("crops", "float32", (NUM_CROPS, vc.num_patches, vc.patch_dim)),
                TensorSpec("image_masks", "float32", (NUM_CROPS, vc.num_patches))),
        outputs=(TensorSpec("image_features", dtype, (NUM_CROPS, vc.tokens_per_crop, d)),),
    )
    embed = GraphSpec(
        EMBED_TOKENS,
        inputs=(TensorSpec("input_ids", "int64", (BATCH, SEQUENCE)),),
        outputs=(TensorSpec("inputs_embeds", dtype, (BATCH, SEQUENCE, d)),),
    )
    decoder = GraphSpec(
        DECODER,
        inputs=(TensorSpec("inputs_embeds", dtype, (BATCH, SEQUENCE, d)),
                TensorSpec("attention_mask", "int64", (BATCH, TOTAL)),
                TensorSpec("position_ids", "int64", (BATCH, SEQUENCE)),
                TensorSpec(LOGITS_TO_KEEP, "int64", ()),
                *(TensorSpec(n, dtype, (BATCH, kv, PAST, hd)) for n in past_names(layers))),
        outputs=(TensorSpec("logits", "float32", (BATCH, KEPT, config.n_embeddings)),
                 *(TensorSpec(n, dtype, (BATCH, kv, TOTAL, hd)) for n in present_names(layers))),
    )
    return {VISION_ENCODER: vision, EMBED_TOKENS: embed, DECODER: decoder}


# ----------------------------------------------------------------------------------------------
# Wrappers: plain tensor-in / tensor-out modules, one per graph


class VisionEncoderGraph(nn.Module):
    def __init__(self, model: Molmo, dtype: torch.dtype):
        super().__init__()
        self.model, self.dtype = model, dtype

    def forward(self, crops: torch.Tensor, image_masks: torch.Tensor) -> torch.Tensor:
        return self.model.encode_images(crops.to(self.dtype), image_masks.to(self.dtype))


class EmbedTokensGraph(nn.Module):
    def __init__(self, model: Molmo):
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        return self.model.embed_tokens(input_ids)


class DecoderGraph(nn.Module):
    def __init__(self, model: Molmo):
        super().__init__()
        self.model = model

    def forward(self, inputs_embeds: torch.Tensor, attention_mask: torch.Tensor, position_ids: torch.Tensor,
                num_logits_to_keep: torch.Tensor, *past_key_values: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        logits, present = self.model.decode(inputs_embeds, attention_mask, position_ids, list(past_key_values),
                                            num_logits_to_keep=num_logits_to_keep)
        return (logits.float(), *present)


def example_inputs(spec: GraphSpec, config: MolmoConfig) -> Tuple[torch.Tensor, ...]:
    """Inputs to trace with. Every symbolic axis gets a size of its own (> 1, past > 0), so that
    no axis is mistaken for another or specialised to 1 or 0 by the tracer."""
    sizes = {NUM_CROPS: 2, BATCH: 2, SEQUENCE: 3, PAST: 4, TOTAL: 7}
    # num_logits_to_keep = 2 of the 3 positions: some but not all, so the example exercises the cut.
    generator = torch.Generator().manual_seed(0)
    tensors = []
    for t in spec.inputs:
        shape = [sizes[d] if isinstance(d, str) else d for d in t.shape]
        if t.name == "input_ids":
            tensors.append(torch.randint(0, config.vocab_size, shape, generator=generator))
        elif t.name == "attention_mask":
            tensors.append(torch.ones(shape, dtype=torch.int64))
        elif t.name == "position_ids":
            tensors.append(torch.arange(sizes[PAST], sizes[TOTAL]).expand(shape).contiguous())
        elif t.name == LOGITS_TO_KEEP:
            tensors.append(torch.tensor(2, dtype=torch.int64))
        elif t.name == "image_masks":
            tensors.append(torch.ones(shape))
        else:
            tensors.append(torch.randn(shape, generator=generator).to(TORCH_DTYPES[t.dtype]))
    return tuple(tensors)


def graph_module(key: str, model: Molmo, dtype: torch.dtype) -> nn.Module:
    if key == VISION_ENCODER:
        return VisionEncoderGraph(model, dtype)
    if key == EMBED_TOKENS:
        return EmbedTokensGraph(model)
    if key == DECODER:
        return DecoderGraph(model)
    raise ValueError(f"unknown graph {key!r}")


def export_graph(model: Molmo, spec: GraphSpec, path: Path, opset: int) -> None:
    """Traces one graph of `model` (already in the bundle's dtype) to `path` with torch.onnx.export.

    Tensors of more than 2 GB make torch write them as separate files next to `path`; the
    exporter gathers them into one `.onnx_data` file afterwards (see external_data.py).
    """
    dtype = model.transformer.ff_out.weight.dtype
    module = graph_module(spec.key, model, dtype).eval()
    extra = {}
    if "dynamo" in inspect.signature(torch.onnx.export).parameters:
        # torch >= 2.9 defaults to the dynamo exporter; this module is written for the TorchScript
        # tracer (custom symbolics in fp16_cpu.py, dynamic_axes), which is the one torch 1.13 has.
        extra["dynamo"] = False
    inputs = example_inputs(spec, model.config)
    started = time.monotonic()
    with torch.no_grad(), float16_cpu_kernels(), warnings.catch_warnings():
        # Tracer warnings about Python-side shape arithmetic are expected: the shapes used there
        # (head counts, patch grids) are fixed by the config, and the dynamic axes are checked by tests.
        warnings.simplefilter("ignore", category=torch.jit.TracerWarning)
        warnings.filterwarnings("ignore", message=".*ONNX export mode is set to.*")
        warnings.filterwarnings("ignore", category=FutureWarning, module="torch.onnx")
        warnings.filterwarnings("ignore", category=FutureWarning, message=r".*g.op\(\).*")
        warnings.filterwarnings("ignore", message=".*shape inference of prim::Constant.*")
        torch.onnx.export(
            module, inputs, str(path),
            input_names=[t.name for t in spec.inputs],
            output_names=[t.name for t in spec.outputs],
            dynamic_axes=spec.dynamic_axes(),
            opset_version=opset,
            do_constant_folding=True,
            **extra,
        )
    declare_io_shapes(path, spec)
    log.info("traced %s in %.1f s", spec.key, time.monotonic() - started)


def declare_io_shapes(path: Path, spec: GraphSpec) -> None:
    """Writes the spec's shapes onto the graph's inputs and outputs.

    torch's shape inference sometimes leaves a fixed output axis as a made-up symbol (the 144
    tokens per crop come out as "MatMulimage_features_dim_1"); the declared shapes are what the
    engine and onnxruntime's output-shape checks go by, so they say exactly what the spec says.
    Axes the tracer made dynamic stay dynamic; a spec axis the graph fixed is caught by check_graph.
    """
    model = onnx.load(str(path), load_external_data=False)
    specs = {t.name: t for t in spec.inputs + spec.outputs}
    for value in list(model.graph.input) + list(model.graph.output):
        wanted = specs.get(value.name)
        dims = value.type.tensor_type.shape.dim
        if wanted is None or len(dims) != len(wanted.shape):
            continue  # check_graph reports it
        for dim, size in zip(dims, wanted.shape):
            if isinstance(size, int) and (dim.HasField("dim_param") or not dim.HasField("dim_value")):
                dim.Clear()
                dim.dim_value = size
            elif isinstance(size, str) and dim.HasField("dim_param"):
                dim.dim_param = size
    path.write_bytes(model.SerializeToString())
