"""Molmo (allenai, 0924 release) in PyTorch: load official HF checkpoints, write tiny random ones.

The pieces, one job per file:
  config.py          MolmoConfig / VisionConfig from config.json (+ optional vision_config)
  model.py           the model, split into encode_images / embed_tokens / decode (KV cache)
  checkpoint.py      load_pretrained(dir): names and shapes checked, then weights read
  safetensors_io.py  safetensors reader/writer (no `safetensors` package needed), shards
  generate.py        greedy decoding with the KV cache (reference outputs for the engine)
  tiny_random.py     CLI: a tiny random-weight checkpoint in the official HF layout
"""

from .checkpoint import load_pretrained
from .config import MolmoConfig, VisionConfig, load_config
from .errors import CheckpointError, ConfigError, MolmoError, SafetensorsError
from .model import Molmo, add_image_features, position_ids_from_mask

__all__ = [
    "CheckpointError", "ConfigError", "Molmo", "MolmoConfig", "MolmoError", "SafetensorsError",
    "VisionConfig", "add_image_features", "load_config", "load_pretrained", "position_ids_from_mask",
]
