"""Loading an official Hugging Face Molmo checkpoint (config.json + safetensors) by parameter name.

The HF checkpoints name every tensor `model.<name>` where <name> is this model's own
state_dict name (`model.transformer.blocks.0.att_proj.weight`, ...); the GH training checkpoints
use the same names without the prefix. Both are accepted. Before any weight is read, the
checkpoint's names and shapes (from the safetensors headers) are compared with what the config
implies, and any missing, unexpected or mis-shaped tensor is reported by name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Dict, List, Mapping, Optional, Tuple

import torch

from .config import MolmoConfig, load_config
from .errors import CheckpointError
from .model import Molmo
from .safetensors_io import ShardedCheckpoint

HF_PREFIX = "model."

# Suffixes that bitsandbytes adds to quantized checkpoints (e.g. the NF4 mirror of 7B-D).
_QUANTIZED_MARKERS = (".absmax", ".quant_map", ".quant_state", ".nested_absmax", ".nested_quant_map")


def expected_shapes(config: MolmoConfig) -> Dict[str, Tuple[int, ...]]:
    """Every parameter the config implies, by its name without the `model.` prefix."""
    model = Molmo(config, device="meta")  # shapes only; nothing is allocated
    return {name: tuple(p.shape) for name, p in model.state_dict().items()}


def _describe(names: List[str], limit: int = 8) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")


def check_names_and_shapes(expected: Mapping[str, Tuple[int, ...]], found: Mapping[str, Tuple[int, ...]],
                           source: str) -> None:
    """Raises CheckpointError naming every missing, unexpected and mis-shaped tensor."""
    missing = sorted(set(expected) - set(found))
    unexpected = sorted(set(found) - set(expected))
    mismatched = sorted(n for n in set(expected) & set(found) if tuple(expected[n]) != tuple(found[n]))
    problems = []
    if missing:
        problems.append(f"missing {len(missing)} tensor(s): {_describe(missing)}")
    if unexpected:
        problems.append(f"unexpected {len(unexpected)} tensor(s): {_describe(unexpected)}")
    if mismatched:
        details = [f"{n} is {list(found[n])}, expected {list(expected[n])}" for n in mismatched]
        problems.append(f"{len(mismatched)} shape mismatch(es): {_describe(details, 5)}")
    if problems:
        code = "shape_mismatch" if mismatched and not (missing or unexpected) else "keys_mismatch"
        raise CheckpointError(code, f"{source} does not match its config.json: " + "; ".join(problems))


def load_pretrained(checkpoint_dir: "str | Path", dtype: torch.dtype = torch.float32,
                    device: "str | torch.device" = "cpu", config: Optional[MolmoConfig] = None) -> Molmo:
    """Builds Molmo from `checkpoint_dir` (config.json + model.safetensors or shards).

    Weights are converted to `dtype` one tensor at a time; peak memory is the model plus one
    tensor. Returns the model in eval mode with gradients off.
    """
    checkpoint_dir = Path(checkpoint_dir)
    config = config or load_config(checkpoint_dir)
    tensors = ShardedCheckpoint(checkpoint_dir)
    names = tensors.keys()
    quantized = [n for n in names if n.endswith(_QUANTIZED_MARKERS)]
    if quantized:
        raise CheckpointError("quantized_checkpoint",
                              f"{checkpoint_dir} is a bitsandbytes-quantized checkpoint ({quantized[0]}, ...); "
                              "export from the official float32 checkpoint instead")
    # HF checkpoints prefix every name with "model."; GH ones do not. Strip only when all have it.
    prefix = HF_PREFIX if names and all(n.startswith(HF_PREFIX) for n in names) else ""
    found = {n[len(prefix):]: tuple(tensors.info(n).shape) for n in names}

    model = Molmo(config, device="meta")
    check_names_and_shapes({n: tuple(p.shape) for n, p in model.state_dict().items()}, found, str(checkpoint_dir))

    model = model.to(dtype).to_empty(device=device)
    params = dict(model.named_parameters())
    with torch.no_grad():
        for name, param in params.items():
            source = tensors.get_tensor(prefix + name)
            if not source.is_floating_point():
                raise CheckpointError("bad_dtype", f"{prefix + name} is {source.dtype}, expected a float tensor")
            param.copy_(source)  # copy_ converts the dtype (e.g. float32 -> float16)
    model.requires_grad_(False)
    return model.eval()
