"""Molmo's configuration, read from a Hugging Face checkpoint's config.json.

The official config.json only describes the decoder; the official remote code
(`modeling_molmo.py::MolmoForCausalLM.__init__`) hard-codes everything else: the CLIP ViT-L/14
vision encoder, the ViT layers it reads, 2x2 attention pooling, 128 extra token embeddings.
Here those settings come from an optional `vision_config` object in config.json, spelled with
the field names of the remote code's `VisionBackboneConfig`, and default to the released values.
So a tiny random checkpoint is described exactly like a real one, and any correctly named
checkpoint of any size loads.

Defaults of the dataclasses are Molmo-7B-D-0924's. `MolmoConfig.from_hf_dict` fills keys that a
config.json leaves out with the remote code's `MolmoConfig.__init__` defaults instead, because
that is what transformers itself would do with the same file.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Dict, Mapping, Optional, Tuple

from .errors import ConfigError

# Activations the vision MLP may name (`image_mlp_activations`); the release uses quick_gelu.
VISION_ACTIVATIONS = ("quick_gelu", "gelu", "gelu_tanh", "gelu_pytorch_tanh", "relu", "silu")

# Keys of the remote code's VisionBackboneConfig that do not change inference; accepted in
# vision_config and ignored, so a config written from that dataclass loads unchanged.
_IGNORED_VISION_KEYS = frozenset(
    {
        "image_model_type",
        "image_dropout_rate",
        "attention_dropout",
        "residual_dropout",
        "initializer_range",
        "fsdp_wrap",
        "resize_mode",
    }
)


@dataclass
class VisionConfig:
    """The vision encoder + connector. Field names follow HF `VisionBackboneConfig`."""

    image_default_input_size: Tuple[int, int] = (336, 336)  # crop size (H, W) in pixels
    image_patch_size: int = 14  # 336 / 14 = 24 x 24 = 576 patches per crop
    image_pos_patch_size: int = 14  # carried for HF compatibility; does not change the math
    image_emb_dim: int = 1024  # ViT width (CLIP ViT-L)
    image_num_heads: int = 16
    image_num_key_value_heads: int = 16  # the released ViT is plain multi-head attention
    image_num_layers: int = 23  # CLIP ViT-L has 24 blocks; Molmo stores and uses 23
    image_head_dim: int = 64
    image_mlp_dim: int = 4096
    image_mlp_activations: str = "quick_gelu"  # x * sigmoid(1.702 x), as in OpenAI CLIP
    image_num_pos: int = 577  # learned positions: 1 CLS + 24 * 24 patches
    image_norm_eps: float = 1e-5
    # Which ViT block outputs are concatenated (in this order) into the patch features:
    # -2 and -9 of 23 blocks are block indices 21 and 14 -> 2 x 1024 = 2048 channels.
    vit_layers: Tuple[int, ...] = (-2, -9)
    image_pooling_h: int = 2  # 2x2 attention pooling: 24 x 24 patches -> 12 x 12 tokens
    image_pooling_w: int = 2

    @property
    def patch_grid(self) -> Tuple[int, int]:
        """Patches per crop along (H, W): 24 x 24 for the release."""
        h, w = self.image_default_input_size
        return h // self.image_patch_size, w // self.image_patch_size

    @property
    def num_patches(self) -> int:
        gh, gw = self.patch_grid
        return gh * gw

    @property
    def patch_dim(self) -> int:
        """Values per patch: 14 * 14 * 3 = 588 (channel fastest)."""
        return self.image_patch_size * self.image_patch_size * 3

    @property
    def pooled_grid(self) -> Tuple[int, int]:
        """Pooled tokens per crop along (H, W), rounding up like the reference: 12 x 12."""
        gh, gw = self.patch_grid
        return (-(-gh // self.image_pooling_h), -(-gw // self.image_pooling_w))

    @property
    def tokens_per_crop(self) -> int:
        ph, pw = self.pooled_grid
        return ph * pw

    @property
    def feature_dim(self) -> int:
        """Channels of the concatenated ViT features (and of pad_embed): 2048 for the release."""
        return self.image_emb_dim * len(self.vit_layers)

    def resolved_vit_layers(self) -> Tuple[int, ...]:
        """vit_layers as non-negative block indices (e.g. (21, 14) for the release)."""
        n = self.image_num_layers
        return tuple(layer if layer >= 0 else n + layer for layer in self.vit_layers)

    def validate(self) -> None:
        def need(ok: bool, message: str) -> None:
            if not ok:
                raise ConfigError("vision_config_invalid", message)

        h, w = self.image_default_input_size
        need(h % self.image_patch_size == 0 and w % self.image_patch_size == 0,
             f"image_default_input_size {self.image_default_input_size} is not a multiple of "
             f"image_patch_size {self.image_patch_size}")
        need(self.image_num_pos == self.num_patches + 1,
             f"image_num_pos {self.image_num_pos} must be patches + 1 = {self.num_patches + 1}; "
             "interpolating positional embeddings is not supported")
        need(self.image_num_heads * self.image_head_dim == self.image_emb_dim,
             f"image_num_heads * image_head_dim = {self.image_num_heads * self.image_head_dim} must "
             f"equal image_emb_dim {self.image_emb_dim} (the reference reshapes heads back to the width)")
        need(self.image_num_key_value_heads > 0 and self.image_num_heads % self.image_num_key_value_heads == 0,
             f"image_num_heads {self.image_num_heads} is not a multiple of "
             f"image_num_key_value_heads {self.image_num_key_value_heads}")
        need(self.image_mlp_activations in VISION_ACTIVATIONS,
             f"image_mlp_activations {self.image_mlp_activations!r} is not one of {VISION_ACTIVATIONS}")
        need(len(self.vit_layers) > 0, "vit_layers is empty")
        n = self.image_num_layers
        for layer in self.vit_layers:
            need(-n <= layer < n,
                 f"vit_layers entry {layer} is out of range for image_num_layers={n} "
                 f"(valid: {-n}..{n - 1})")
        need(self.image_pooling_h >= 1 and self.image_pooling_w >= 1, "pooling sizes must be >= 1")


@dataclass
class MolmoConfig:
    """The whole model. Decoder field names follow the HF config.json of the 0924 release."""

    hidden_size: int = 3584  # d_model
    # Fused SwiGLU width: ff_proj outputs [up | gate], each intermediate_size // 2 wide.
    # It also sets the projector's hidden width (intermediate_size // 2).
    intermediate_size: int = 37888
    num_hidden_layers: int = 28
    num_attention_heads: int = 28  # head_dim = hidden_size // num_attention_heads
    num_key_value_heads: Optional[int] = 4  # None means = num_attention_heads (no GQA)
    layer_norm_eps: float = 1e-6  # RMSNorm epsilon
    rope_theta: float = 1_000_000.0
    qkv_bias: bool = True  # Qwen2 has a bias on the fused q/k/v projection; OLMo does not
    attention_layer_norm: bool = False  # OLMo-7B-O: RMSNorm over the full q and k before heads
    norm_after: bool = False  # OLMo-7B-O: post-norm blocks, x += Norm(Attn(x)); x += Norm(MLP(x))
    clip_qkv: Optional[float] = None  # clamp q/k/v to +-clip_qkv when set (no released model)
    vocab_size: int = 152064
    embedding_size: Optional[int] = 152064  # rows of wte.embedding and of the LM head
    additional_vocab_size: int = 128  # rows of wte.new_embedding (ids >= embedding_size)
    max_position_embeddings: int = 4096  # the reference's RoPE table length
    vision: VisionConfig = field(default_factory=VisionConfig)

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_attention_heads

    @property
    def n_kv_heads(self) -> int:
        return self.num_attention_heads if self.num_key_value_heads is None else self.num_key_value_heads

    @property
    def n_embeddings(self) -> int:
        """Rows of wte.embedding, which is also the number of logits."""
        return self.embedding_size if self.embedding_size else self.vocab_size

    def validate(self) -> None:
        def need(ok: bool, message: str) -> None:
            if not ok:
                raise ConfigError("config_invalid", message)

        need(self.hidden_size > 0 and self.num_attention_heads > 0 and self.num_hidden_layers > 0,
             "hidden_size, num_attention_heads and num_hidden_layers must be positive")
        need(self.hidden_size % self.num_attention_heads == 0,
             f"hidden_size {self.hidden_size} is not divisible by num_attention_heads "
             f"{self.num_attention_heads}")
        need(self.head_dim % 2 == 0, f"head_dim {self.head_dim} must be even for rotate-half RoPE")
        need(self.n_kv_heads > 0 and self.num_attention_heads % self.n_kv_heads == 0,
             f"num_attention_heads {self.num_attention_heads} is not a multiple of "
             f"num_key_value_heads {self.n_kv_heads}")
        need(self.intermediate_size > 0 and self.intermediate_size % 2 == 0,
             f"intermediate_size {self.intermediate_size} must be even (it is the fused [up | gate] width)")
        need(self.n_embeddings >= self.vocab_size,
             f"embedding_size {self.embedding_size} is smaller than vocab_size {self.vocab_size}")
        need(self.additional_vocab_size >= 0, "additional_vocab_size must be >= 0")
        need(self.clip_qkv is None or self.clip_qkv > 0, "clip_qkv must be positive when set")
        self.vision.validate()

    # ----------------------------------------------------------------------------------------
    # config.json <-> dataclass

    @classmethod
    def from_hf_dict(cls, data: Mapping[str, Any]) -> "MolmoConfig":
        """Builds the config from a parsed config.json (HF `MolmoConfig` layout)."""
        if not isinstance(data, Mapping):
            raise ConfigError("config_invalid", "config.json must hold a JSON object")
        model_type = data.get("model_type", "molmo")
        architectures = data.get("architectures") or []
        if model_type == "molmoe" or any("MOLMoE" in str(a) for a in architectures):
            raise ConfigError("unsupported_variant",
                              "MolmoE (mixture-of-experts) checkpoints are not supported yet; "
                              "Molmo-7B-D, Molmo-7B-O and Molmo-72B are")
        if model_type != "molmo":
            raise ConfigError("unsupported_variant", f"model_type {model_type!r} is not 'molmo'")
        missing = [k for k in ("hidden_size", "intermediate_size", "num_hidden_layers",
                               "num_attention_heads", "vocab_size") if k not in data]
        if missing:
            raise ConfigError("config_invalid", f"config.json lacks required keys: {', '.join(missing)}")
        norm_type = data.get("layer_norm_type", "rms")
        if norm_type != "rms":
            raise ConfigError("unsupported_variant",
                              f"layer_norm_type {norm_type!r} is not supported (released models use 'rms')")

        def get(key: str, default: Any, kind: type) -> Any:
            value = data.get(key, default)
            if value is None:
                return None
            if kind is float and isinstance(value, int) and not isinstance(value, bool):
                value = float(value)
            if (kind is int and isinstance(value, bool)) or not isinstance(value, kind):
                raise ConfigError("config_invalid",
                                  f"config.json key {key!r} should be {kind.__name__}, got {value!r}")
            return value

        # Absent keys take the remote code's MolmoConfig.__init__ defaults (config_molmo.py).
        config = cls(
            hidden_size=get("hidden_size", None, int),
            intermediate_size=get("intermediate_size", None, int),
            num_hidden_layers=get("num_hidden_layers", None, int),
            num_attention_heads=get("num_attention_heads", None, int),
            num_key_value_heads=get("num_key_value_heads", None, int),
            layer_norm_eps=get("layer_norm_eps", 1e-5, float),
            rope_theta=get("rope_theta", 10000.0, float),
            qkv_bias=get("qkv_bias", False, bool),
            attention_layer_norm=get("attention_layer_norm", False, bool),
            norm_after=get("norm_after", False, bool),
            clip_qkv=get("clip_qkv", None, float),
            vocab_size=get("vocab_size", None, int),
            embedding_size=get("embedding_size", 50304, int),
            additional_vocab_size=get("additional_vocab_size", 128, int),
            max_position_embeddings=get("max_position_embeddings", 2048, int),
            vision=_vision_from_dict(data.get("vision_config")),
        )
        if config.layer_norm_eps is None or config.rope_theta is None:
            raise ConfigError("config_invalid", "layer_norm_eps and rope_theta may not be null")
        config.validate()
        return config

    def to_hf_dict(self) -> Dict[str, Any]:
        """The config.json this config would be read from (with a vision_config section)."""
        vision = asdict(self.vision)
        vision["image_default_input_size"] = list(self.vision.image_default_input_size)
        vision["vit_layers"] = list(self.vision.vit_layers)
        return {
            "architectures": ["MolmoForCausalLM"],
            "model_type": "molmo",
            "hidden_size": self.hidden_size,
            "intermediate_size": self.intermediate_size,
            "num_hidden_layers": self.num_hidden_layers,
            "num_attention_heads": self.num_attention_heads,
            "num_key_value_heads": self.num_key_value_heads,
            "layer_norm_eps": self.layer_norm_eps,
            "layer_norm_type": "rms",
            "rope_theta": self.rope_theta,
            "qkv_bias": self.qkv_bias,
            "attention_layer_norm": self.attention_layer_norm,
            "norm_after": self.norm_after,
            "clip_qkv": self.clip_qkv,
            "vocab_size": self.vocab_size,
            "embedding_size": self.embedding_size,
            "additional_vocab_size": self.additional_vocab_size,
            "max_position_embeddings": self.max_position_embeddings,
            "weight_tying": False,
            "tie_word_embeddings": False,
            "use_position_ids": True,
            "use_cache": True,
            "torch_dtype": "float32",
            "vision_config": vision,
        }


def _vision_from_dict(data: Optional[Mapping[str, Any]]) -> VisionConfig:
    if data is None:
        return VisionConfig()
    if not isinstance(data, Mapping):
        raise ConfigError("vision_config_invalid", "vision_config must be a JSON object")
    known = {f.name: f for f in fields(VisionConfig)}
    unknown = sorted(set(data) - set(known) - _IGNORED_VISION_KEYS)
    if unknown:
        raise ConfigError("vision_config_invalid",
                          f"vision_config has unknown keys: {', '.join(unknown)} "
                          f"(known: {', '.join(sorted(known))})")
    values: Dict[str, Any] = {}
    for key, value in data.items():
        if key in _IGNORED_VISION_KEYS:
            continue
        if key in ("image_default_input_size", "vit_layers"):
            if not isinstance(value, (list, tuple)) or not all(
                    isinstance(v, int) and not isinstance(v, bool) for v in value):
                raise ConfigError("vision_config_invalid", f"vision_config.{key} must be a list of integers")
            if key == "image_default_input_size" and len(value) != 2:
                raise ConfigError("vision_config_invalid", "vision_config.image_default_input_size must be [H, W]")
            values[key] = tuple(value)
            continue
        expected = type(getattr(VisionConfig(), key))
        if expected is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if isinstance(value, bool) or not isinstance(value, expected):
            raise ConfigError("vision_config_invalid",
                              f"vision_config.{key} should be {expected.__name__}, got {value!r}")
        values[key] = value
    return VisionConfig(**values)


def load_config(checkpoint_dir: "str | Path") -> MolmoConfig:
    """Reads `<checkpoint_dir>/config.json`."""
    path = Path(checkpoint_dir) / "config.json"
    if not path.is_file():
        raise ConfigError("config_missing", f"no config.json in {checkpoint_dir}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ConfigError("config_invalid", f"{path} is not valid JSON: {error}") from error
    return MolmoConfig.from_hf_dict(data)
