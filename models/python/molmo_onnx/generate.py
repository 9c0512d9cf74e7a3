"""Greedy decoding with the KV cache, the way the engine will run the exported graphs.

prefill: embed the prompt, add the image features, decode all L positions against an empty
cache; then one token at a time: embed it, decode it at position L + i against the cache. The
argmax takes the first index among equal maxima (torch.argmax), which the engine must match.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Optional, Sequence

import torch

from .model import Molmo, add_image_features


@dataclass
class GreedyResult:
    tokens: List[int]  # generated ids, the stop token included when one was hit
    step_logits: List[torch.Tensor] = field(default_factory=list)  # (vocab,) per generated token


@torch.no_grad()
def greedy_generate(model: Molmo, input_ids: torch.Tensor, images: Optional[torch.Tensor] = None,
                    image_masks: Optional[torch.Tensor] = None, image_input_idx: Optional[torch.Tensor] = None,
                    max_new_tokens: int = 32, stop_token_ids: Sequence[int] = ()) -> GreedyResult:
    """input_ids (1, L); images (n, 576, 588); image_masks (n, 576); image_input_idx (n, 144)."""
    assert input_ids.dim() == 2 and input_ids.shape[0] == 1, f"input_ids must be (1, L), got {list(input_ids.shape)}"
    length, device = input_ids.shape[1], input_ids.device
    embeds = model.embed_tokens(input_ids)
    if images is not None:
        assert image_masks is not None and image_input_idx is not None, "images need masks and image_input_idx"
        features = model.encode_images(images, image_masks)  # (n, 144, d)
        embeds = add_image_features(embeds, features[None], image_input_idx[None])
    mask = torch.ones(1, length, dtype=torch.int64, device=device)
    positions = torch.arange(length, device=device)[None]
    logits, cache = model.decode(embeds, mask, positions, model.empty_kv_cache(1), last_logits_only=True)
    result = GreedyResult(tokens=[])
    for step in range(max_new_tokens):
        step_logits = logits[0, -1]
        token = int(torch.argmax(step_logits))
        result.tokens.append(token)
        result.step_logits.append(step_logits.clone())
        if token in stop_token_ids or step == max_new_tokens - 1:
            break
        embeds = model.embed_tokens(torch.tensor([[token]], device=device))
        mask = torch.ones(1, length + step + 1, dtype=torch.int64, device=device)
        positions = torch.tensor([[length + step]], device=device)
        logits, cache = model.decode(embeds, mask, positions, cache)
    return result
