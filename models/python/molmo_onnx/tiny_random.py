"""Writes a tiny Molmo with random weights as a Hugging Face-format checkpoint.

    python3 -m molmo_onnx.tiny_random --out DIR [--seed 0] [--dtype float32] [--shards 1]

(run from models/python). DIR gets what an official checkpoint folder has, laid out the same way:
config.json (with a vision_config section, since the tiny ViT is not the hard-coded one),
model.safetensors (official names, `model.` prefix) and preprocessor_config.json (the released
Molmo-7B-D values, so the real preprocessing drives it). The exporter then treats it exactly like
a real checkpoint.

The tiny model keeps everything that fixes the input/output contract at its released size: the
336 px crops cut into 24 x 24 patches of 588 values, 2x2 pooling to 144 tokens per crop, and the
Qwen2 vocabulary (152064 rows + 128 new ones) so the real tokenizer's ids, image tokens
152064-152068 included, are valid. Only widths and depths shrink. The embedding table and the
LM head (152192 and 152064 rows) dominate the size, so d_model is 16: 5.0 M parameters in all,
of which 4.87 M are those two tables — model.safetensors is 20 MB in float32, 10 MB in float16,
and an fp16 ONNX bundle of it stays near 10 MB (d_model 32 would already need ~20 MB).

Defaults, and why:
  decoder   d_model 16, 2 layers, 4 heads / 2 KV heads (head_dim 4), SwiGLU 2 x 32, Qwen2 flags
            (qkv bias, pre-norm, RoPE theta 1e6). Two KV heads with two query heads each keep the
            GQA head order observable (repeat_interleave vs tile would give different logits).
  ViT       width 32, 2 heads x 16, MLP 64, quick_gelu, 9 blocks so that the released
            vit_layers [-2, -9] are valid unchanged (blocks 7 and 0; block 8 is never read,
            just as block 22 of the real 23 is not).
Weights are drawn in float32 and rounded to the float16 grid, so an fp16 export stores them
exactly and fp32/fp16 bundles differ only by their arithmetic.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import replace
from pathlib import Path
from typing import Dict, List, Optional

import torch

from .checkpoint import HF_PREFIX, expected_shapes
from .config import MolmoConfig, VisionConfig
from .safetensors_io import save_sharded

# The released Molmo-7B-D-0924 preprocessor_config.json values (HF hub), which the TypeScript
# preprocessing reads from the bundle.
RELEASED_PREPROCESSOR_CONFIG = {
    "auto_map": {
        "AutoImageProcessor": "image_preprocessing_molmo.MolmoImageProcessor",
        "AutoProcessor": "preprocessing_molmo.MolmoProcessor",
    },
    "base_image_input_size": [336, 336],
    "do_normalize": True,
    "image_mean": [0.48145466, 0.4578275, 0.40821073],
    "image_padding_mask": True,
    "image_patch_size": 14,
    "image_processor_type": "MolmoImageProcessor",
    "image_std": [0.26862954, 0.26130258, 0.27577711],
    "image_token_length_h": 12,
    "image_token_length_w": 12,
    "max_crops": 12,
    "overlap_margins": [4, 4],
    "processor_class": "MolmoProcessor",
}


def tiny_config(**overrides) -> MolmoConfig:
    """The tiny architecture (see the module docstring); keyword overrides replace decoder fields."""
    vision = VisionConfig(image_emb_dim=32, image_num_heads=2, image_num_key_value_heads=2, image_head_dim=16,
                          image_mlp_dim=64, image_num_layers=9)
    config = MolmoConfig(hidden_size=16, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                         num_key_value_heads=2, layer_norm_eps=1e-6, rope_theta=1_000_000.0, qkv_bias=True,
                         vocab_size=152064, embedding_size=152064, additional_vocab_size=128,
                         max_position_embeddings=4096, vision=vision)
    config = replace(config, **overrides)
    config.validate()
    return config


def random_weights(config: MolmoConfig, seed: int = 0) -> Dict[str, torch.Tensor]:
    """Random float32 weights for every parameter, by official name without the prefix.

    Scales keep activations O(1) through the tiny network so that logits differ clearly between
    tokens: linear weights ~ N(0, 1/fan_in); norm weights ~ 1 + N(0, 0.1^2); biases, embeddings
    and pad_embed ~ N(0, 0.5^2) (large enough that they visibly matter in tests).
    """
    generator = torch.Generator().manual_seed(seed)
    weights = {}
    for name, shape in sorted(expected_shapes(config).items()):
        noise = torch.randn(shape, generator=generator)
        if name.endswith("norm.weight") or name.endswith("pre_ln.weight") or name.endswith("ln_f.weight"):
            value = 1.0 + 0.1 * noise
        elif name.endswith(".weight") and len(shape) == 2:
            value = noise / math.sqrt(shape[1])
        else:  # biases, wte tables, class/positional embeddings, pad_embed
            value = 0.5 * noise
        # Round to the float16 grid so that a float16 copy is exact.
        weights[name] = value.to(torch.float16).to(torch.float32)
    return weights


def write_checkpoint(out_dir: "str | Path", config: MolmoConfig, weights: Dict[str, torch.Tensor],
                     dtype: torch.dtype = torch.float32, shards: int = 1,
                     preprocessor_config: Optional[dict] = None) -> Path:
    """Writes config.json, the safetensors file(s) (with `model.` names) and preprocessor_config.json."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    hf_config = config.to_hf_dict()
    hf_config["torch_dtype"] = str(dtype).replace("torch.", "")
    (out / "config.json").write_text(json.dumps(hf_config, indent=2) + "\n", encoding="utf-8")
    (out / "preprocessor_config.json").write_text(
        json.dumps(preprocessor_config or RELEASED_PREPROCESSOR_CONFIG, indent=2) + "\n", encoding="utf-8")
    tensors = {HF_PREFIX + name: tensor.to(dtype) for name, tensor in weights.items()}
    save_sharded(tensors, out, shards, metadata={"format": "pt"})
    return out


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="folder to write the checkpoint into")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dtype", choices=("float32", "float16", "bfloat16"), default="float32",
                        help="storage dtype of model.safetensors (the release stores float32)")
    parser.add_argument("--shards", type=int, default=1, help="write N shards plus an index, like 7B-D")
    parser.add_argument("--hidden-size", type=int, help="override d_model (vocabulary stays 152064 + 128)")
    parser.add_argument("--layers", type=int, help="override the number of decoder layers")
    args = parser.parse_args(argv)
    overrides = {}
    if args.hidden_size:
        overrides["hidden_size"] = args.hidden_size
    if args.layers:
        overrides["num_hidden_layers"] = args.layers
    config = tiny_config(**overrides)
    weights = random_weights(config, args.seed)
    out = write_checkpoint(args.out, config, weights, getattr(torch, args.dtype), args.shards)
    count = sum(w.numel() for w in weights.values())
    size = sum(p.stat().st_size for p in out.iterdir())
    print(f"wrote {out}: {count:,} parameters, {size / 1e6:.1f} MB", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
