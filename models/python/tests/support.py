"""Shared helpers for the models/python tests: import path, small configs, random models and inputs."""

import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # models/python, home of molmo_onnx

import torch  # noqa: E402

from molmo_onnx.config import MolmoConfig, VisionConfig  # noqa: E402
from molmo_onnx.model import Molmo  # noqa: E402
from molmo_onnx.tiny_random import random_weights  # noqa: E402


def small_config(**overrides) -> MolmoConfig:
    """A fast Qwen2-style config: real crop geometry (576 patches of 588, 144 tokens per crop), the
    released vit_layers [-2, -9] on a 9-block ViT, a small vocabulary with 128 new rows."""
    vision = VisionConfig(image_emb_dim=16, image_num_heads=2, image_num_key_value_heads=2, image_head_dim=8,
                          image_mlp_dim=32, image_num_layers=9)
    config = MolmoConfig(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                         num_key_value_heads=2, layer_norm_eps=1e-6, rope_theta=1_000_000.0, qkv_bias=True,
                         vocab_size=300, embedding_size=320, additional_vocab_size=128,
                         max_position_embeddings=4096, vision=vision)
    return replace(config, **overrides)


def olmo_config() -> MolmoConfig:
    """The Molmo-7B-O flavour: no qkv bias, q/k norm, post-norm, no GQA."""
    return small_config(num_key_value_heads=None, qkv_bias=False, attention_layer_norm=True, norm_after=True,
                        rope_theta=500_000.0)


def random_model(config: MolmoConfig, seed: int = 0) -> Molmo:
    model = Molmo(config)
    model.load_state_dict(random_weights(config, seed), strict=True)
    return model.eval().requires_grad_(False)


def random_inputs(config: MolmoConfig, seed: int = 0, n_crops: int = 2, length: int = 40):
    """One sequence: crop 0 feeds positions 5..14, crop 1 positions 20..29 (other slots unused)."""
    g = torch.Generator().manual_seed(seed)
    vc = config.vision
    images = torch.randn(n_crops, vc.num_patches, vc.patch_dim, generator=g)
    masks = torch.ones(n_crops, vc.num_patches)
    masks[0, :50] = 0.0
    masks[0, 50:60] = 0.5
    masks[-1] = -1.0
    ids = torch.randint(0, config.vocab_size, (1, length), generator=g)
    idx = torch.full((n_crops, vc.tokens_per_crop), -100, dtype=torch.long)
    idx[0, 3:13] = torch.arange(5, 15)
    idx[1, 100:110] = torch.arange(20, 30)
    return ids, images, masks, idx
