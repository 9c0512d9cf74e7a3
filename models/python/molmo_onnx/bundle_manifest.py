"""The "molmo_onnx" section of a bundle's config.json: what the engine needs to drive the graphs.

The bundle's config.json is the checkpoint's own config.json with one section added:

    "molmo_onnx": {
      "export_version": 1, "exporter": {...}, "variant": "molmo-qwen2", "dtype": "fp16",
      "precision": {...},               # logits/KV dtypes, where float32 is kept, weight storage
      "dims": {...},                    # d_model, layers, heads, kv_heads, head_dim, vocab sizes, ...
      "vision": {...},                  # crop input shape, tokens per crop, feature dim
      "special_tokens": {...} | null,   # read from the tokenizer when there is one
      "tokenizer": {...},               # which tokenizer files the bundle holds, or who supplies them
      "graphs": {name: {"file", "external_data", "inputs", "outputs"}},
      "kv_cache": {...},                # which decoder inputs/outputs are the cache, and their layout
      "decoder": {...},                 # how the decoder graph is written: "plain" or "fused" operators
      "files": {path: {"bytes", "sha256"}}
    }

Everything here is derived from the config, the graph specs and the files; nothing is guessed.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Dict, Mapping, Optional

from .config import MolmoConfig
from .onnx_graphs import DECODER, GraphSpec, past_names, present_names


EXPORT_VERSION = 1
SECTION = "molmo_onnx"

# Molmo's added tokens (HF added_tokens.json of the 0924 checkpoints), by the key the engine uses.
IMAGE_TOKENS = {
    "im_start": "<im_start>",
    "im_end": "<im_end>",
    "im_patch": "<im_patch>",
    "im_col": "<im_col>",
    "image": "<|image|>",
}

# Where the float16 graphs keep float32 arithmetic: the model code's own `.float()` casts.
FLOAT16_FLOAT32_REGIONS = [
    "RMSNorm statistics (decoder norms, q/k norms, final norm): computed in float32, cast back",
    "ViT LayerNorms: computed in float32",
    "RoPE: angles, cos/sin and the rotation in float32",
    "attention scores and softmax (ViT, pooling, decoder) in float32; probabilities cast back before P.V",
    "logits: the LM head runs in float16, its output is cast to float32",
]


def variant_of(config: MolmoConfig) -> str:
    """"molmo-qwen2" (7B-D, 72B) or "molmo-olmo" (7B-O): the decoder flavour the flags describe."""
    return "molmo-olmo" if (config.norm_after or config.attention_layer_norm) else "molmo-qwen2"


def dims_of(config: MolmoConfig) -> Dict[str, Any]:
    return {
        "d_model": config.hidden_size,
        "num_layers": config.num_hidden_layers,
        "num_heads": config.num_attention_heads,
        "num_kv_heads": config.n_kv_heads,
        "head_dim": config.head_dim,
        "intermediate_size": config.intermediate_size,
        "vocab_size": config.vocab_size,
        "embedding_size": config.n_embeddings,
        "additional_vocab_size": config.additional_vocab_size,
        # Ids the embedding graph accepts: [0, embedding_size + additional_vocab_size).
        "num_input_ids": config.n_embeddings + config.additional_vocab_size,
        # Logits cover the embedding rows only: the 128 new (image) tokens are never predicted.
        "num_logits": config.n_embeddings,
        "max_position_embeddings": config.max_position_embeddings,
        "rope_theta": config.rope_theta,
        "layer_norm_eps": config.layer_norm_eps,
    }


def vision_of(config: MolmoConfig) -> Dict[str, Any]:
    vc = config.vision
    return {
        "crop_size": list(vc.image_default_input_size),
        "patch_size": vc.image_patch_size,
        "patches_per_crop": vc.num_patches,
        "patch_dim": vc.patch_dim,
        "crops_shape": ["num_crops", vc.num_patches, vc.patch_dim],
        "image_masks_shape": ["num_crops", vc.num_patches],
        "pooled_grid": list(vc.pooled_grid),
        "tokens_per_crop": vc.tokens_per_crop,
        # image_features rows are added (not copied) to the embeddings at image_input_idx.
        "image_feature_dim": config.hidden_size,
        "feature_injection": "add",
        "vit_layers": list(vc.vit_layers),
        "vit_width": vc.image_emb_dim,
        "vit_num_layers": vc.image_num_layers,
    }


def _token_content(value: Any) -> Optional[str]:
    """tokenizer_config.json spells a token as "text" or {"content": "text", ...}."""
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping) and isinstance(value.get("content"), str):
        return value["content"]
    return None


def special_tokens_from(tokenizer_json: Mapping[str, Any],
                        tokenizer_config: Optional[Mapping[str, Any]]) -> Dict[str, Optional[int]]:
    """Ids of Molmo's image tokens and of BOS/EOS/PAD, from a parsed tokenizer.json (+ its config).

    BOS follows Molmo's rule (HF MolmoProcessor: `bos_token_id or eos_token_id`): Qwen2 has no BOS,
    so EOS `<|endoftext|>` opens every sequence. EOS defaults to `<|endoftext|>` when no
    tokenizer_config.json names one. A token the tokenizer lacks gets None.
    """
    ids: Dict[str, int] = {}
    vocab = (tokenizer_json.get("model") or {}).get("vocab")
    if isinstance(vocab, Mapping):
        ids.update({k: v for k, v in vocab.items() if isinstance(v, int)})
    for token in tokenizer_json.get("added_tokens") or []:
        if isinstance(token, Mapping) and isinstance(token.get("content"), str) and isinstance(token.get("id"), int):
            ids[token["content"]] = token["id"]
    cfg = tokenizer_config or {}
    eos = _token_content(cfg.get("eos_token")) or "<|endoftext|>"
    bos = _token_content(cfg.get("bos_token")) or eos
    pad = _token_content(cfg.get("pad_token")) or eos
    result: Dict[str, Optional[int]] = {key: ids.get(text) for key, text in IMAGE_TOKENS.items()}
    result.update({"bos": ids.get(bos), "eos": ids.get(eos), "pad": ids.get(pad)})
    return result


def graph_entry(spec: GraphSpec, external_data: Optional[str]) -> Dict[str, Any]:
    return {
        "file": f"onnx/{spec.file_name}",
        "external_data": external_data,
        "inputs": [t.to_json() for t in spec.inputs],
        "outputs": [t.to_json() for t in spec.outputs],
    }


def kv_cache_entry(config: MolmoConfig, dtype: str) -> Dict[str, Any]:
    layers = config.num_hidden_layers
    return {
        "graph": DECODER,
        "num_layers": layers,
        "inputs": past_names(layers),
        "outputs": present_names(layers),
        "input_pattern": "past_key_values.{layer}.{key|value}",
        "output_pattern": "present.{layer}.{key|value}",
        "input_shape": ["batch_size", config.n_kv_heads, "past_sequence_length", config.head_dim],
        "output_shape": ["batch_size", config.n_kv_heads, "total_sequence_length", config.head_dim],
        "dtype": dtype,
        # Prefill feeds past tensors with 0 positions; present = past + the new positions.
        "empty_past_for_prefill": True,
        # Keys are cached after RoPE and before the GQA head repetition, as the reference does.
        "keys_after_rope": True,
    }


def decoder_entry(ops: str) -> Dict[str, Any]:
    """How the decoder graph is written (export --decoder-ops); absent in bundles made before the option,
    which are all "plain". Both kinds take the same feeds and give the same outputs."""
    if ops == "plain":
        return {"ops": "plain", "positions": "position_ids",
                "padding": "any: attention_mask may hold zeros anywhere"}
    if ops == "fused":
        return {
            "ops": "fused",
            "operators": ["com.microsoft.GroupQueryAttention (packed qkv, do_rotary, rotate-half)",
                          "com.microsoft.SkipSimplifiedLayerNormalization", "SimplifiedLayerNormalization"],
            # GroupQueryAttention places the new tokens right after the cached ones, at
            # sum(attention_mask) - sequence_length + i; position_ids is accepted and not read.
            "positions": "attention_mask",
            "padding": "right only (no zeros before the last one in attention_mask)",
            "requires": "onnxruntime with contrib operators (onnxruntime-node: CPU, WebGPU); the CPU kernel "
                        "needs head_dim % 16 == 0",
        }
    raise ValueError(f"unknown decoder ops {ops!r}")


def file_entries(bundle_dir: Path) -> Dict[str, Dict[str, Any]]:
    """Size and SHA-256 of every file under the bundle except config.json itself."""
    entries = {}
    for path in sorted(p for p in bundle_dir.rglob("*") if p.is_file()):
        relative = path.relative_to(bundle_dir).as_posix()
        if relative == "config.json":
            continue
        digest = hashlib.sha256()
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(16 * 1024 * 1024), b""):
                digest.update(chunk)
        entries[relative] = {"bytes": path.stat().st_size, "sha256": digest.hexdigest()}
    return entries


def write_config(bundle_dir: Path, hf_config: Mapping[str, Any], section: Mapping[str, Any]) -> None:
    config = dict(hf_config)
    config[SECTION] = dict(section)
    (bundle_dir / "config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
