"""Molmo (allenai, 0924 release) in one readable PyTorch file.

Same math as the official code — GH `allenai/molmo` `olmo/model.py` + `olmo/image_vit.py`, and the
HF remote code `modeling_molmo.py` — and the same parameter names, so an official Hugging Face
checkpoint loads by name (see checkpoint.py). The model is split into the three graphs an ONNX
bundle needs, each a plain tensor-in / tensor-out method with no Python objects in between:

    encode_images(crops [n, 576, 588], masks [n, 576])        -> features [n, 144, d]
    embed_tokens(input_ids [B, L])                             -> embeddings [B, L, d]
    decode(embeds [B, T, d], attention_mask [B, P+T], position_ids [B, T], past (2 per layer))
                                                               -> logits [B, T, V], present

`add_image_features` (adding each pooled feature to the embedding of its `<im_patch>` token) sits
between them; the TypeScript engine does that step itself. The KV cache is a flat list
[k_0, v_0, k_1, v_1, ...] of tensors [B, kv_heads, P, head_dim], keys after RoPE and before GQA
repetition, exactly what the reference caches; an empty cache has P = 0, so prefill and decode are
one graph. Only ops that export to ONNX are used (no boolean indexing, no in-place updates).

What is implemented: Molmo-7B-D and -72B (Qwen2 decoder: fused qkv with bias, GQA, RoPE,
SwiGLU) and Molmo-7B-O (OLMo decoder: no qkv bias, q/k RMSNorm over the full width, post-norm)
through config flags. MolmoE-1B (mixture of experts) is not implemented yet.
"""

from __future__ import annotations

import math
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from .config import MolmoConfig, VisionConfig

Device = Optional["str | torch.device"]


# ----------------------------------------------------------------------------------------------
# Shared pieces


class RMSNorm(nn.Module):
    """RMSNorm computed in float32 and cast back, weight applied after (as the reference)."""

    def __init__(self, size: int, eps: float, device: Device = None):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(size, device=device))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x32 = x.float()
        x32 = x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * x32.to(x.dtype)


class LayerNorm32(nn.LayerNorm):
    """LayerNorm computed in float32 (the ViT norms; HF's `LayerNormFp32`)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.layer_norm(x.float(), self.normalized_shape, self.weight.float(), self.bias.float(), self.eps)
        return out.to(x.dtype)


def repeat_kv(x: torch.Tensor, n_rep: int) -> torch.Tensor:
    """GQA: (B, kv, T, hd) -> (B, kv * n_rep, T, hd), each kv head repeated n_rep times in a row.

    This is `repeat_interleave(n_rep, dim=1)` as in the reference (head h reads kv head
    h // n_rep), written as expand + reshape because that exports to ONNX cleanly.
    """
    if n_rep == 1:
        return x
    b, kv, t, hd = x.shape
    return x[:, :, None].expand(b, kv, n_rep, t, hd).reshape(b, kv * n_rep, t, hd)


def attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
           allowed: Optional[torch.Tensor] = None) -> torch.Tensor:
    """Scaled dot-product attention, scores and softmax in float32 (as the reference's ViT and
    pooling force; for the float32 decoder it changes nothing).

    q (B, H, Tq, hd), k/v (B, H, Tk, hd), allowed (B or 1, 1, Tq, Tk) bool or None -> (B, H, Tq, hd).
    Disallowed scores become the float32 minimum rather than -inf, so a fully masked row (a
    padding query) gives a uniform softmax instead of NaN, like the reference's finite bias.
    """
    scale = 1.0 / math.sqrt(q.shape[-1])
    scores = torch.matmul(q.float(), k.float().transpose(-1, -2)) * scale  # (B, H, Tq, Tk)
    if allowed is not None:
        scores = scores.masked_fill(~allowed, torch.finfo(torch.float32).min)
    probs = torch.softmax(scores, dim=-1)
    return torch.matmul(probs.to(v.dtype), v)


def rope_cos_sin(position_ids: torch.Tensor, head_dim: int, theta: float) -> Tuple[torch.Tensor, torch.Tensor]:
    """Rotary tables for the given positions: (B, T) -> cos, sin of shape (B, 1, T, head_dim), float32.

    inv_freq and the angle products are computed with the same float32 expressions as the
    reference's table, so the angles are bit-identical; the halves are duplicated
    ([f, f], "llama"/rotate-half layout, not interleaved).
    """
    inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=torch.float32,
                                             device=position_ids.device) / head_dim))
    freqs = position_ids.to(torch.float32)[..., None] * inv_freq  # (B, T, hd/2)
    angles = torch.cat([freqs, freqs], dim=-1)  # (B, T, hd)
    return angles.cos()[:, None], angles.sin()[:, None]


def apply_rope(t: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """t (B, h, T, hd) rotated in float32: t * cos + rotate_half(t) * sin, rotate_half = [-t2, t1]."""
    t32 = t.float()
    t1, t2 = t32.chunk(2, dim=-1)
    rotated = torch.cat([-t2, t1], dim=-1)
    return (t32 * cos + rotated * sin).to(t.dtype)


# ----------------------------------------------------------------------------------------------
# Vision encoder: CLIP ViT-L/14 (23 blocks), layer concat, pad embeddings, 2x2 pooling, projector


def vision_activation(name: str, x: torch.Tensor) -> torch.Tensor:
    if name == "quick_gelu":
        return x * torch.sigmoid(1.702 * x)
    if name == "gelu":
        return F.gelu(x)
    if name in ("gelu_tanh", "gelu_pytorch_tanh"):
        return F.gelu(x, approximate="tanh")
    if name == "relu":
        return F.relu(x)
    if name == "silu":
        return F.silu(x)
    raise ValueError(f"unknown vision activation {name!r}")


class VisionAttention(nn.Module):
    """Multi-head attention with biases (`wq wk wv wo`): the ViT's self-attention and the 2x2
    pooling's cross-attention (query = mean of the window) share this shape."""

    def __init__(self, in_dim: int, n_heads: int, n_kv_heads: int, head_dim: int, out_dim: int,
                 device: Device = None):
        super().__init__()
        self.n_heads, self.n_kv_heads, self.head_dim = n_heads, n_kv_heads, head_dim
        self.wq = nn.Linear(in_dim, n_heads * head_dim, bias=True, device=device)
        self.wk = nn.Linear(in_dim, n_kv_heads * head_dim, bias=True, device=device)
        self.wv = nn.Linear(in_dim, n_kv_heads * head_dim, bias=True, device=device)
        self.wo = nn.Linear(n_heads * head_dim, out_dim, bias=True, device=device)

    def forward(self, x_q: torch.Tensor, x_kv: torch.Tensor) -> torch.Tensor:
        n, tq, tk = x_q.shape[0], x_q.shape[1], x_kv.shape[1]
        q = self.wq(x_q).view(n, tq, self.n_heads, self.head_dim).transpose(1, 2)  # (N, H, Tq, hd)
        k = self.wk(x_kv).view(n, tk, self.n_kv_heads, self.head_dim).transpose(1, 2)  # (N, KV, Tk, hd)
        v = self.wv(x_kv).view(n, tk, self.n_kv_heads, self.head_dim).transpose(1, 2)  # (N, KV, Tk, hd)
        rep = self.n_heads // self.n_kv_heads
        out = attend(q, repeat_kv(k, rep), repeat_kv(v, rep))  # (N, H, Tq, hd), bidirectional
        out = out.transpose(1, 2).reshape(n, tq, self.n_heads * self.head_dim)  # (N, Tq, H*hd)
        return self.wo(out)


class ViTMLP(nn.Module):
    def __init__(self, vc: VisionConfig, device: Device = None):
        super().__init__()
        self.activation = vc.image_mlp_activations
        self.w1 = nn.Linear(vc.image_emb_dim, vc.image_mlp_dim, bias=True, device=device)
        self.w2 = nn.Linear(vc.image_mlp_dim, vc.image_emb_dim, bias=True, device=device)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.w2(vision_activation(self.activation, self.w1(x)))


class ViTBlock(nn.Module):
    """Pre-norm residual block: x += Attn(LN(x)); x += MLP(LN(x))."""

    def __init__(self, vc: VisionConfig, device: Device = None):
        super().__init__()
        self.attention = VisionAttention(vc.image_emb_dim, vc.image_num_heads, vc.image_num_key_value_heads,
                                         vc.image_head_dim, vc.image_emb_dim, device)
        self.feed_forward = ViTMLP(vc, device)
        self.attention_norm = LayerNorm32(vc.image_emb_dim, eps=vc.image_norm_eps, device=device)
        self.ffn_norm = LayerNorm32(vc.image_emb_dim, eps=vc.image_norm_eps, device=device)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.attention_norm(x)
        x = x + self.attention(h, h)
        return x + self.feed_forward(self.ffn_norm(x))


class VisionTransformer(nn.Module):
    def __init__(self, vc: VisionConfig, device: Device = None):
        super().__init__()
        self.class_embedding = nn.Parameter(torch.zeros(vc.image_emb_dim, device=device))
        self.positional_embedding = nn.Parameter(torch.zeros(vc.image_num_pos, vc.image_emb_dim, device=device))
        self.patch_embedding = nn.Linear(vc.patch_dim, vc.image_emb_dim, bias=False, device=device)
        self.pre_ln = LayerNorm32(vc.image_emb_dim, eps=vc.image_norm_eps, device=device)
        self.transformer = nn.ModuleDict(
            {"resblocks": nn.ModuleList([ViTBlock(vc, device) for _ in range(vc.image_num_layers)])})

    def forward(self, patches: torch.Tensor, num_blocks: int) -> List[torch.Tensor]:
        """patches (N, P, 588) -> outputs of the first `num_blocks` blocks, each (N, 1 + P, C)."""
        n = patches.shape[0]
        x = self.patch_embedding(patches)  # (N, P, C)
        cls = self.class_embedding.to(x.dtype).view(1, 1, -1).expand(n, 1, x.shape[-1])  # (N, 1, C)
        x = torch.cat([cls, x], dim=1)  # (N, 1 + P, C); CLS first
        x = x + self.positional_embedding.to(x.dtype)[None]
        x = self.pre_ln(x)
        outputs = []
        for block in self.transformer.resblocks[:num_blocks]:
            x = block(x)
            outputs.append(x)
        return outputs


class ImageProjector(nn.Module):
    """SwiGLU MLP, no biases: w2(silu(w1 x) * w3 x), pooled ViT width -> d_model."""

    def __init__(self, in_dim: int, hidden: int, out_dim: int, device: Device = None):
        super().__init__()
        self.w1 = nn.Linear(in_dim, hidden, bias=False, device=device)
        self.w2 = nn.Linear(hidden, out_dim, bias=False, device=device)
        self.w3 = nn.Linear(in_dim, hidden, bias=False, device=device)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.w2(F.silu(self.w1(x)) * self.w3(x))


class VisionBackbone(nn.Module):
    def __init__(self, config: MolmoConfig, device: Device = None):
        super().__init__()
        vc = config.vision
        self.vc = vc
        self.image_vit = VisionTransformer(vc, device)
        # Pooling reads the concatenated layers (2048-d) and writes the ViT width (1024-d).
        self.image_pooling_2d = VisionAttention(vc.feature_dim, vc.image_num_heads, vc.image_num_key_value_heads,
                                                vc.image_head_dim, vc.image_emb_dim, device)
        self.image_projector = ImageProjector(vc.image_emb_dim, config.intermediate_size // 2,
                                              config.hidden_size, device)
        # Row 0 is added to patches that are all padding (mask == 0), row 1 to partial ones.
        self.pad_embed = nn.Parameter(torch.zeros(2, vc.feature_dim, device=device))
        self.layers = vc.resolved_vit_layers()
        # Blocks after the deepest one read are never needed (with [-2, -9] of 23, the last block).
        self.num_blocks = max(self.layers) + 1

    def patch_features(self, images: torch.Tensor, image_masks: torch.Tensor) -> torch.Tensor:
        """(N, P, 588), (N, P) -> per-patch features before pooling, (N, P, feature_dim)."""
        hidden = self.image_vit(images, self.num_blocks)
        x = torch.cat([hidden[i] for i in self.layers], dim=-1)  # (N, 1 + P, F), in vit_layers order
        x = x[:, 1:]  # drop CLS -> (N, P, F)
        # Crops that are entirely -1 are batch padding: their ViT features are zeroed.
        keep = (images != -1).to(x.dtype).flatten(1).max(dim=1).values  # (N,), 1.0 unless all -1
        x = x * keep[:, None, None]
        # mask == 0 -> pad_embed[0]; anything else below 1 (partial padding, and the -1 rows of
        # the released preprocessor's off-by-one) -> pad_embed[1]; mask == 1 -> nothing.
        all_pad = (image_masks == 0).to(x.dtype)
        partial_pad = ((image_masks < 1) & (image_masks != 0)).to(x.dtype)
        x = x + self.pad_embed[0].to(x.dtype) * all_pad[..., None]
        x = x + self.pad_embed[1].to(x.dtype) * partial_pad[..., None]
        return x

    def forward(self, images: torch.Tensor, image_masks: torch.Tensor) -> torch.Tensor:
        """(N, P, 588), (N, P) -> projected features (N, tokens_per_crop, d_model)."""
        vc = self.vc
        n, num_patches, patch_dim = images.shape
        assert num_patches == vc.num_patches and patch_dim == vc.patch_dim, \
            f"crops must be [n, {vc.num_patches}, {vc.patch_dim}], got {list(images.shape)}"
        assert image_masks.shape == images.shape[:2], \
            f"image_masks must be [n, {vc.num_patches}], got {list(image_masks.shape)}"
        x = self.patch_features(images, image_masks)
        gh, gw = vc.patch_grid
        ph, pw = vc.image_pooling_h, vc.image_pooling_w
        x = x.reshape(n, gh, gw, -1)  # (N, 24, 24, F), patches in raster order
        if gh % ph or gw % pw:  # odd grids are padded with zeros at the bottom/right
            x = F.pad(x, (0, 0, 0, (-gw) % pw, 0, (-gh) % ph))
        th, tw = vc.pooled_grid
        x = x.reshape(n, th, ph, tw, pw, -1).permute(0, 1, 3, 2, 4, 5)  # (N, 12, 12, 2, 2, F)
        x = x.reshape(n * th * tw, ph * pw, -1)  # (N*144, 4, F): windows raster, patches (0,0)(0,1)(1,0)(1,1)
        query = x.mean(dim=1, keepdim=True)  # (N*144, 1, F)
        pooled = self.image_pooling_2d(query, x)  # (N*144, 1, C)
        pooled = pooled.reshape(n, th * tw, -1)  # (N, 144, C)
        return self.image_projector(pooled)  # (N, 144, d_model)


# ----------------------------------------------------------------------------------------------
# Decoder: Qwen2 / OLMo blocks over [embedding; new_embedding]


class Embedding(nn.Module):
    """wte: `embedding` [embedding_size, d] and `new_embedding` [128, d]; ids >= embedding_size
    read new_embedding. Same result as the reference's F.embedding over the concatenated table,
    written as two gathers so a 7B export does not hold a second copy of the table."""

    def __init__(self, num_embeddings: int, num_new_embeddings: int, dim: int, device: Device = None):
        super().__init__()
        self.embedding = nn.Parameter(torch.zeros(num_embeddings, dim, device=device))
        self.new_embedding = nn.Parameter(torch.zeros(num_new_embeddings, dim, device=device))

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        n_base = self.embedding.shape[0]
        if not torch.jit.is_tracing():
            total = n_base + self.new_embedding.shape[0]
            assert ids.numel() == 0 or (int(ids.min()) >= -1 and int(ids.max()) < total), \
                f"token ids must lie in [-1, {total}), got [{int(ids.min())}, {int(ids.max())}]"
        ids = ids * (ids != -1).to(ids.dtype)  # -1 is the reference's padding id; it reads row 0
        is_new = (ids >= n_base)[..., None]
        base = F.embedding(ids.clamp(max=n_base - 1), self.embedding)
        if self.new_embedding.shape[0] == 0:
            return base
        new = F.embedding((ids - n_base).clamp(min=0), self.new_embedding)
        return torch.where(is_new, new, base)


class DecoderBlock(nn.Module):
    """OLMo "sequential" block (HF `MolmoSequentialBlock`).

    pre-norm (Qwen2):  x += attn_out(Attn(att_proj(attn_norm(x))));  x += ff_out(SwiGLU(ff_proj(ff_norm(x))))
    norm_after (OLMo): x += attn_norm(attn_out(Attn(att_proj(x))));  x += ff_norm(ff_out(SwiGLU(ff_proj(x))))
    """

    def __init__(self, config: MolmoConfig, device: Device = None):
        super().__init__()
        d, hd, kv = config.hidden_size, config.head_dim, config.n_kv_heads
        self.n_heads, self.n_kv_heads, self.head_dim = config.num_attention_heads, kv, hd
        self.norm_after = config.norm_after
        self.clip_qkv = config.clip_qkv
        self.fused_dims = (d, kv * hd, kv * hd)  # att_proj rows: [q | k | v]
        self.attn_norm = RMSNorm(d, config.layer_norm_eps, device)
        self.ff_norm = RMSNorm(d, config.layer_norm_eps, device)
        self.att_proj = nn.Linear(d, sum(self.fused_dims), bias=config.qkv_bias, device=device)
        self.q_norm: Optional[RMSNorm] = None
        self.k_norm: Optional[RMSNorm] = None
        if config.attention_layer_norm:  # over the whole q (d) and k (kv * hd), before the head split
            self.q_norm = RMSNorm(d, config.layer_norm_eps, device)
            self.k_norm = RMSNorm(kv * hd, config.layer_norm_eps, device)
        self.attn_out = nn.Linear(d, d, bias=False, device=device)
        self.ff_proj = nn.Linear(d, config.intermediate_size, bias=False, device=device)  # [up | gate]
        self.ff_out = nn.Linear(config.intermediate_size // 2, d, bias=False, device=device)

    def forward(self, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, allowed: torch.Tensor,
                past_k: torch.Tensor, past_v: torch.Tensor) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        b, t, d = x.shape
        qkv = self.att_proj(x if self.norm_after else self.attn_norm(x))  # (B, T, d + 2 kv hd)
        if self.clip_qkv is not None:
            qkv = qkv.clamp(min=-self.clip_qkv, max=self.clip_qkv)
        q, k, v = qkv.split(self.fused_dims, dim=-1)
        if self.q_norm is not None and self.k_norm is not None:
            q, k = self.q_norm(q), self.k_norm(k)
        q = q.view(b, t, self.n_heads, self.head_dim).transpose(1, 2)  # (B, H, T, hd)
        k = k.view(b, t, self.n_kv_heads, self.head_dim).transpose(1, 2)  # (B, KV, T, hd)
        v = v.view(b, t, self.n_kv_heads, self.head_dim).transpose(1, 2)  # (B, KV, T, hd)
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        k = torch.cat([past_k.to(k.dtype), k], dim=2)  # (B, KV, P + T, hd): the new cache entry
        v = torch.cat([past_v.to(v.dtype), v], dim=2)
        rep = self.n_heads // self.n_kv_heads
        att = attend(q, repeat_kv(k, rep), repeat_kv(v, rep), allowed)  # (B, H, T, hd)
        att = self.attn_out(att.transpose(1, 2).reshape(b, t, d))  # (B, T, d)
        if self.norm_after:
            att = self.attn_norm(att)
        x = x + att
        up, gate = self.ff_proj(x if self.norm_after else self.ff_norm(x)).chunk(2, dim=-1)
        y = self.ff_out(F.silu(gate) * up)
        if self.norm_after:
            y = self.ff_norm(y)
        return x + y, k, v


class Molmo(nn.Module):
    """The whole model; parameter names are the checkpoint's, without the leading `model.`."""

    def __init__(self, config: MolmoConfig, device: Device = None):
        super().__init__()
        config.validate()
        self.config = config
        self.transformer = nn.ModuleDict({
            "wte": Embedding(config.n_embeddings, config.additional_vocab_size, config.hidden_size, device),
            "blocks": nn.ModuleList([DecoderBlock(config, device) for _ in range(config.num_hidden_layers)]),
            "ln_f": RMSNorm(config.hidden_size, config.layer_norm_eps, device),
            # The LM head is its own matrix (weight_tying is false in every release) and has no
            # rows for the 128 new tokens, so the model never predicts an image token.
            "ff_out": nn.Linear(config.hidden_size, config.n_embeddings, bias=False, device=device),
        })
        self.vision_backbone = VisionBackbone(config, device)

    # -- the three exportable graphs ---------------------------------------------------------

    def encode_images(self, images: torch.Tensor, image_masks: torch.Tensor) -> torch.Tensor:
        """Crops (n, 576, 588) + masks (n, 576) -> features (n, 144, d), one row per pooled slot."""
        return self.vision_backbone(images, image_masks)

    def embed_tokens(self, input_ids: torch.Tensor) -> torch.Tensor:
        """(B, L) int64 -> (B, L, d). No scaling (`normalize_input_embeds` is false)."""
        return self.transformer.wte(input_ids)

    def decode(self, inputs_embeds: torch.Tensor, attention_mask: torch.Tensor, position_ids: torch.Tensor,
               past_key_values: Sequence[torch.Tensor],
               last_logits_only: bool = False,
               num_logits_to_keep: "int | torch.Tensor | None" = None) -> Tuple[torch.Tensor, List[torch.Tensor]]:
        """Runs the decoder over T new positions after P cached ones.

        inputs_embeds (B, T, d); attention_mask (B, P + T), 1 for real tokens and 0 for padding;
        position_ids (B, T); past_key_values [k_0, v_0, k_1, ...], each (B, kv_heads, P, head_dim)
        (P may be 0). Returns logits (B, T or fewer, embedding_size) and the present cache, each
        (B, kv_heads, P + T, head_dim). Attention is causal over sequence order, image tokens
        included, and never reaches keys whose mask is 0.

        Which positions get logits: all of them by default; the last one with `last_logits_only`;
        with `num_logits_to_keep` (an int or an int64 scalar tensor, Hugging Face's
        `logits_to_keep`) the last k, where 0 means all and k > T means all T. The hidden states
        are cut before the final norm and the LM head, so the positions left out cost nothing there.
        """
        cfg = self.config
        b, t, _ = inputs_embeds.shape
        assert len(past_key_values) == 2 * cfg.num_hidden_layers, \
            f"expected {2 * cfg.num_hidden_layers} past tensors (k and v per layer), got {len(past_key_values)}"
        p = past_key_values[0].shape[2]
        if not torch.jit.is_tracing():
            assert attention_mask.shape == (b, p + t), \
                f"attention_mask must be (B, P + T) = ({b}, {p + t}), got {tuple(attention_mask.shape)}"
            assert position_ids.shape == (b, t), f"position_ids must be ({b}, {t}), got {tuple(position_ids.shape)}"
        key_index = torch.arange(p + t, device=inputs_embeds.device)  # (P + T,)
        query_index = key_index[p:]  # (T,): query i sits at sequence index P + i
        causal = key_index[None, :] <= query_index[:, None]  # (T, P + T)
        allowed = causal[None, None] & (attention_mask[:, None, None, :] != 0)  # (B, 1, T, P + T)
        cos, sin = rope_cos_sin(position_ids, cfg.head_dim, cfg.rope_theta)
        x = inputs_embeds
        present: List[torch.Tensor] = []
        for i, block in enumerate(self.transformer.blocks):
            x, k, v = block(x, cos, sin, allowed, past_key_values[2 * i], past_key_values[2 * i + 1])
            present += [k, v]
        if last_logits_only:
            x = x[:, -1:]
        elif num_logits_to_keep is not None:
            # x[:, -0:] is all of x, so 0 keeps every position without a branch; traced with a
            # tensor k this is one ONNX Slice(starts = -k), which clamps k > T to all T positions.
            x = x[:, -num_logits_to_keep:]
        logits = self.transformer.ff_out(self.transformer.ln_f(x))
        return logits, present

    def empty_kv_cache(self, batch_size: int, dtype: Optional[torch.dtype] = None,
                       device: Device = None) -> List[torch.Tensor]:
        """2 * layers tensors of shape (batch_size, kv_heads, 0, head_dim)."""
        cfg = self.config
        weight = self.transformer.ff_out.weight
        shape = (batch_size, cfg.n_kv_heads, 0, cfg.head_dim)
        return [torch.zeros(shape, dtype=dtype or weight.dtype, device=device or weight.device)
                for _ in range(2 * cfg.num_hidden_layers)]

    # -- convenience: the reference's single forward pass --------------------------------------

    def forward(self, input_ids: torch.Tensor, images: Optional[torch.Tensor] = None,
                image_masks: Optional[torch.Tensor] = None, image_input_idx: Optional[torch.Tensor] = None,
                attention_mask: Optional[torch.Tensor] = None, position_ids: Optional[torch.Tensor] = None,
                last_logits_only: bool = False) -> torch.Tensor:
        """Logits for a full sequence, as HF `Molmo.forward` computes them (no cache).

        input_ids (B, L) with -1 as padding; images (B, n, 576, 588); image_masks (B, n, 576);
        image_input_idx (B, n, 144) with negative entries for unused slots. attention_mask
        defaults to input_ids != -1 and position_ids to cumsum(mask) - 1 (clamped at 0).
        """
        b, length = input_ids.shape
        if attention_mask is None:
            attention_mask = (input_ids != -1).to(torch.int64)
        if position_ids is None:
            position_ids = position_ids_from_mask(attention_mask)
        x = self.embed_tokens(input_ids)
        if images is not None:
            assert image_masks is not None and image_input_idx is not None, \
                "images need image_masks and image_input_idx"
            assert images.dim() == 4 and images.shape[0] == b, \
                f"images must be (B, n_crops, patches, patch_dim) with B={b}, got {list(images.shape)}"
            n = images.shape[1]
            features = self.encode_images(images.flatten(0, 1), image_masks.flatten(0, 1))  # (B*n, 144, d)
            x = add_image_features(x, features.reshape(b, n * features.shape[1], -1), image_input_idx)
        logits, _ = self.decode(x, attention_mask, position_ids, self.empty_kv_cache(b, x.dtype, x.device),
                                last_logits_only)
        return logits


def position_ids_from_mask(attention_mask: torch.Tensor) -> torch.Tensor:
    """The reference's positions: cumsum(mask) - 1, clamped at 0 (0..L-1 without padding)."""
    return (torch.cumsum(attention_mask.to(torch.int64), dim=-1) - 1).clamp(min=0)


def add_image_features(embeds: torch.Tensor, features: torch.Tensor, image_input_idx: torch.Tensor) -> torch.Tensor:
    """Adds pooled image features to the token embeddings at their positions (not a replacement).

    embeds (B, L, d); features (B, S, d) or anything reshaping to it; image_input_idx (B, S) or
    (B, n, 144), negative where a slot is unused. Equivalent to the reference's
    `x[b, idx[valid]] += features[valid]`: unused slots add an exact 0.0 to position 0.
    """
    b, length, d = embeds.shape
    idx = image_input_idx.reshape(b, -1).to(torch.int64)  # (B, S)
    feats = features.reshape(b, -1, d).to(embeds.dtype)  # (B, S, d)
    assert idx.shape[1] == feats.shape[1], \
        f"{feats.shape[1]} feature rows but {idx.shape[1]} image_input_idx entries"
    valid = idx >= 0
    if not torch.jit.is_tracing():
        assert int(idx.max()) < length, f"image_input_idx reaches {int(idx.max())} but the sequence has {length} tokens"
        for row, ok in zip(idx, valid):
            positions = row[ok]
            assert positions.unique().numel() == positions.numel(), "image_input_idx repeats a position"
    idx = torch.where(valid, idx, torch.zeros_like(idx))
    feats = feats * valid[..., None].to(feats.dtype)
    return embeds.scatter_add(1, idx[..., None].expand(b, idx.shape[1], d), feats)
