#!/usr/bin/env python3
"""PyTorch reference of micro_diffusion's MicroDiT (SonyResearch/micro_diffusion, models/dit.py and
models/utils.py), written from scratch for parity checks and as the Python baseline of
`npm run bench -- microdit`.

The module tree (attribute names, nn.Sequential indices, parameter shapes) equals upstream's, so an
upstream state dict loads with strict=True, and the forward pass is upstream's `forward_without_cfg`
/ `forward_with_cfg` op for op. Differences, all without effect on the math:
  * no timm / einops / numpy dependency (PatchEmbed is its conv; the sin-cos table is built in
    float64 torch exactly as upstream's numpy);
  * LayerNorm without bias is a small module of its own (nn.LayerNorm(bias=False) needs torch >= 2.1);
  * attention is F.scaled_dot_product_attention when the installed torch has it (>= 2.0), else the
    same math composed (softmax(q kᵀ / √d) v), as on the Debian torch 1.13;
  * the expert-choice MoE casts its one-hot dispatch matrix to the activations' dtype (upstream
    relies on autocast for that), so a model cast to bfloat16 also runs without autocast;
  * weights are initialised with plain PyTorch defaults: they are meant to be loaded (safetensors).

Usage:
  microdit_ref.py --config CFG --weights W.safetensors --inputs IN.safetensors --out OUT.safetensors
      forward(x, t, y) in float32 (--device, default cpu) -> OUT['out'] (float32)
  microdit_ref.py --config CFG --weights W --inputs IN --bench '{"warmup":2,"repeats":5,...}'
      prints one JSON line of timings: median wall ms (and process CPU ms) of forward (no_grad) and
      of forward+backward (loss = sum of squares of the output, backward through every parameter)
CFG is a JSON file or inline JSON: upstream DiT(...) arguments in snake_case, either bare or under
"dit_config". Inputs are x [N,C,H,W], t [N] (or [1]) and y [N,1,L,caption_channels]; optional "cfg"
(a 1-element tensor) selects forward_with_cfg.
"""
import argparse
import contextlib
import json
import math
import os
import statistics
import struct
import sys
import time
from typing import Dict, List, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

HAS_SDPA = hasattr(F, "scaled_dot_product_attention")

# --------------------------------------------------------------------------------------------------
# safetensors without the safetensors package
# --------------------------------------------------------------------------------------------------

_ST_DTYPES = {
    "F32": torch.float32,
    "F16": torch.float16,
    "BF16": torch.bfloat16,
    "F64": torch.float64,
    "I64": torch.int64,
    "I32": torch.int32,
    "U8": torch.uint8,
    "BOOL": torch.bool,
}
_ST_NAMES = {v: k for k, v in _ST_DTYPES.items()}


def load_safetensors(path: str) -> Dict[str, torch.Tensor]:
    """Reads a safetensors file: 8-byte little-endian header length, JSON header, raw LE data."""
    with open(path, "rb") as f:
        # One writable buffer (frombuffer warns on read-only bytes); each tensor is cloned out of it,
        # which also aligns it. Peak host memory: twice the file (fine for XL's 4.7 GB).
        buf = bytearray(os.fstat(f.fileno()).st_size)
        f.readinto(buf)
    (n,) = struct.unpack("<Q", buf[:8])
    header = json.loads(bytes(buf[8:8 + n]).decode("utf-8"))
    base = 8 + n
    out: Dict[str, torch.Tensor] = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        dtype = _ST_DTYPES.get(e["dtype"])
        if dtype is None:
            raise ValueError(f"{path}: {name}: unsupported dtype {e['dtype']}")
        start, end = e["data_offsets"]
        shape = list(e["shape"])
        count = math.prod(shape)
        itemsize = torch.empty((), dtype=dtype).element_size()
        if end - start != count * itemsize:
            raise ValueError(f"{path}: {name}: {end - start} bytes for shape {shape} of {e['dtype']}")
        if count == 0:
            t = torch.empty(shape, dtype=dtype)
        else:
            t = torch.frombuffer(buf, dtype=dtype, count=count, offset=base + start).reshape(shape).clone()
        out[name] = t
    return out


def save_safetensors(path: str, tensors: Dict[str, torch.Tensor]) -> None:
    header = {}
    blobs = []
    offset = 0
    for name, t in tensors.items():
        t = t.detach().cpu().contiguous()
        raw = t.view(torch.uint8).numpy().tobytes() if t.numel() else b""
        header[name] = {"dtype": _ST_NAMES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * (-len(h) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


# --------------------------------------------------------------------------------------------------
# utils.py
# --------------------------------------------------------------------------------------------------


def modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    return x * (1 + scale.unsqueeze(1)) + shift.unsqueeze(1)


class LayerNorm(nn.Module):
    """create_norm: 'layernorm' = learnable weight, no bias; 'np_layernorm' = no parameters."""

    def __init__(self, dim: int, eps: float = 1e-6, affine: bool = True):
        super().__init__()
        self.normalized_shape = (dim,)
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim)) if affine else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.layer_norm(x, self.normalized_shape, self.weight, None, self.eps)


def create_norm(norm_type: str, dim: int, eps: float = 1e-6) -> nn.Module:
    if norm_type == "layernorm":
        return LayerNorm(dim, eps, affine=True)
    if norm_type == "np_layernorm":
        return LayerNorm(dim, eps, affine=False)
    raise ValueError(f"norm type {norm_type!r} not supported")


def approx_gelu() -> nn.Module:
    return nn.GELU(approximate="tanh")


def attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """q [B,H,L,D], k/v [B,H,S,D] -> [B,H,L,D], no mask, not causal."""
    if HAS_SDPA:
        return F.scaled_dot_product_attention(q, k, v, is_causal=False)
    scale = 1.0 / math.sqrt(q.shape[-1])
    return torch.softmax(torch.matmul(q, k.transpose(-2, -1)) * scale, dim=-1).matmul(v)


class Mlp(nn.Module):
    """timm Mlp without dropout: fc1 -> act -> norm (or Identity) -> fc2."""

    def __init__(self, in_features: int, hidden_features: Optional[int] = None, out_features: Optional[int] = None,
                 act_layer=approx_gelu, norm_layer: Optional[nn.Module] = None, bias: bool = True):
        super().__init__()
        hidden_features = hidden_features or in_features
        out_features = out_features or in_features
        self.fc1 = nn.Linear(in_features, hidden_features, bias=bias)
        self.act = act_layer()
        self.norm = norm_layer if norm_layer is not None else nn.Identity()
        self.fc2 = nn.Linear(hidden_features, out_features, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.norm(self.act(self.fc1(x))))


class SelfAttention(nn.Module):
    def __init__(self, dim: int, num_heads: int, qkv_bias: bool = True, norm_eps: float = 1e-6,
                 hidden_dim: Optional[int] = None):
        super().__init__()
        hidden_dim = dim if hidden_dim is None else hidden_dim
        assert hidden_dim % num_heads == 0, "hidden dim must be divisible by num_heads"
        self.dim = dim
        self.hidden_dim = hidden_dim
        self.num_heads = num_heads
        self.head_dim = hidden_dim // num_heads
        self.qkv = nn.Linear(dim, hidden_dim * 3, bias=qkv_bias)
        self.proj = nn.Linear(hidden_dim, dim, bias=qkv_bias)
        self.ln_q = create_norm("np_layernorm", hidden_dim, norm_eps)
        self.ln_k = create_norm("np_layernorm", hidden_dim, norm_eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        B, N, _ = x.shape
        H, Dh = self.num_heads, self.head_dim
        q, k, v = self.qkv(x).reshape(B, N, 3, H, Dh).unbind(2)
        # .to(q.dtype): under autocast layer_norm returns float32; upstream casts back.
        q = self.ln_q(q.reshape(B, N, H * Dh)).view(B, N, H, Dh).to(v.dtype)
        k = self.ln_k(k.reshape(B, N, H * Dh)).view(B, N, H, Dh).to(v.dtype)
        o = attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)).transpose(1, 2).contiguous()
        return self.proj(o.view(B, N, H * Dh))


class CrossAttention(nn.Module):
    def __init__(self, dim: int, num_heads: int, qkv_bias: bool = True, norm_eps: float = 1e-6,
                 hidden_dim: Optional[int] = None):
        super().__init__()
        hidden_dim = dim if hidden_dim is None else hidden_dim
        assert hidden_dim % num_heads == 0, "hidden dim must be divisible by num_heads"
        self.dim = dim
        self.hidden_dim = hidden_dim
        self.num_heads = num_heads
        self.head_dim = hidden_dim // num_heads
        self.q_linear = nn.Linear(dim, hidden_dim, bias=qkv_bias)
        self.kv_linear = nn.Linear(dim, hidden_dim * 2, bias=qkv_bias)
        self.proj = nn.Linear(hidden_dim, dim, bias=qkv_bias)
        self.ln_q = create_norm("np_layernorm", hidden_dim, norm_eps)
        self.ln_k = create_norm("np_layernorm", hidden_dim, norm_eps)

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        # cond is [B, 1, L, D] (upstream keeps the caption's singleton axis) or [B, L, D].
        B, N, _ = x.shape
        H, Dh = self.num_heads, self.head_dim
        q = self.q_linear(x).reshape(B, N, H, Dh)
        k, v = self.kv_linear(cond).reshape(B, -1, 2, H, Dh).unbind(2)
        S = k.shape[1]
        q = self.ln_q(q.reshape(B, N, H * Dh)).view(B, N, H, Dh).to(v.dtype)
        k = self.ln_k(k.reshape(B, S, H * Dh)).view(B, S, H, Dh).to(v.dtype)
        o = attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)).transpose(1, 2).contiguous()
        return self.proj(o.view(B, N, H * Dh))


class PatchEmbed(nn.Module):
    """timm PatchEmbed as upstream uses it: conv (kernel = stride = patch), flatten, no norm."""

    def __init__(self, img_size: int, patch_size: int, in_chans: int, embed_dim: int, bias: bool = True):
        super().__init__()
        self.img_size = (img_size, img_size)
        self.patch_size = (patch_size, patch_size)
        self.grid_size = (img_size // patch_size, img_size // patch_size)
        self.num_patches = self.grid_size[0] * self.grid_size[1]
        self.proj = nn.Conv2d(in_chans, embed_dim, kernel_size=patch_size, stride=patch_size, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x).flatten(2).transpose(1, 2)


class TimestepEmbedder(nn.Module):
    def __init__(self, hidden_size: int, act_layer=approx_gelu, frequency_embedding_size: int = 512):
        super().__init__()
        self.mlp = nn.Sequential(
            nn.Linear(frequency_embedding_size, hidden_size, bias=True),
            act_layer(),
            nn.Linear(hidden_size, hidden_size, bias=True),
        )
        self.frequency_embedding_size = frequency_embedding_size

    @staticmethod
    def timestep_embedding(t: torch.Tensor, dim: int, max_period: int = 10000) -> torch.Tensor:
        half = dim // 2
        freqs = torch.exp(-math.log(max_period) * torch.arange(0, half, dtype=torch.float32, device=t.device) / half)
        args = t[:, None].float() * freqs[None]
        emb = torch.cat([torch.cos(args), torch.sin(args)], dim=-1)
        if dim % 2:
            emb = torch.cat([emb, torch.zeros_like(emb[:, :1])], dim=-1)
        return emb

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        dtype = self.mlp[0].weight.dtype
        return self.mlp(self.timestep_embedding(t, self.frequency_embedding_size).to(dtype))


class CaptionProjection(nn.Module):
    def __init__(self, in_channels: int, hidden_size: int, act_layer, norm_layer: nn.Module):
        super().__init__()
        self.y_proj = Mlp(in_channels, hidden_size, hidden_size, act_layer=act_layer, norm_layer=norm_layer)

    def forward(self, caption: torch.Tensor) -> torch.Tensor:
        return self.y_proj(caption)


class T2IFinalLayer(nn.Module):
    def __init__(self, hidden_size: int, time_emb_dim: int, patch_size: int, out_channels: int, act_layer,
                 norm_final: nn.Module):
        super().__init__()
        self.linear = nn.Linear(hidden_size, patch_size * patch_size * out_channels, bias=True)
        self.adaLN_modulation = nn.Sequential(act_layer(), nn.Linear(time_emb_dim, 2 * hidden_size, bias=True))
        self.norm_final = norm_final

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        shift, scale = self.adaLN_modulation(c).chunk(2, dim=1)
        return self.linear(modulate(self.norm_final(x), shift, scale))


def sincos_pos_embed_2d(embed_dim: int, grid_size: int, pos_interp_scale: float, base_size: int) -> torch.Tensor:
    """upstream get_2d_sincos_pos_embed: [grid², dim]; grid coordinates in float32, the rest in float64."""
    assert embed_dim % 4 == 0
    g = torch.arange(grid_size, dtype=torch.float32)
    coord = g / torch.tensor(grid_size / base_size, dtype=torch.float32) / torch.tensor(pos_interp_scale, dtype=torch.float32)
    # np.meshgrid(grid_w, grid_h): grid[0] varies along w (columns), grid[1] along h (rows).
    gw = coord[None, :].expand(grid_size, grid_size).reshape(-1).double()
    gh = coord[:, None].expand(grid_size, grid_size).reshape(-1).double()
    half = embed_dim // 2
    omega = torch.arange(half // 2, dtype=torch.float64) / (half / 2.0)
    omega = 1.0 / 10000 ** omega

    def emb_1d(pos: torch.Tensor) -> torch.Tensor:
        out = pos[:, None] * omega[None, :]
        return torch.cat([torch.sin(out), torch.cos(out)], dim=1)

    return torch.cat([emb_1d(gw), emb_1d(gh)], dim=1)


# --------------------------------------------------------------------------------------------------
# dit.py
# --------------------------------------------------------------------------------------------------


class FeedForward(nn.Module):
    """w3(silu(w1 x) * w2 x); hidden = round_up(int(2*hidden/3), multiple_of)."""

    def __init__(self, dim: int, hidden_dim: int, multiple_of: int, use_bias: bool):
        super().__init__()
        self.dim = dim
        hidden_dim = int(2 * hidden_dim / 3)
        self.hidden_dim = multiple_of * ((hidden_dim + multiple_of - 1) // multiple_of)
        self.w1 = nn.Linear(dim, self.hidden_dim, bias=use_bias)
        self.w2 = nn.Linear(dim, self.hidden_dim, bias=use_bias)
        self.w3 = nn.Linear(self.hidden_dim, dim, bias=use_bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.w3(F.silu(self.w1(x)) * self.w2(x))


class FeedForwardECMoe(nn.Module):
    """Expert-choice MoE: each expert takes its top-k tokens (k = int(capacity*T/E)) by router
    probability; a GELU MLP per expert; outputs weighted by those probabilities and summed back.
    `impl` 'einsum' is upstream's one-hot einsum form; 'gather' is the same sum by gather/scatter_add."""

    impl = "einsum"

    def __init__(self, num_experts: int, expert_capacity: float, dim: int, hidden_dim: int, multiple_of: int):
        super().__init__()
        self.num_experts = num_experts
        self.expert_capacity = expert_capacity
        self.dim = dim
        self.hidden_dim = multiple_of * ((hidden_dim + multiple_of - 1) // multiple_of)
        self.w1 = nn.Parameter(torch.ones(num_experts, dim, self.hidden_dim))
        self.w2 = nn.Parameter(torch.ones(num_experts, self.hidden_dim, dim))
        self.gate = nn.Linear(dim, num_experts, bias=False)
        self.gelu = nn.GELU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        assert x.dim() == 3
        n, t, d = x.shape
        k = int(self.expert_capacity * t / self.num_experts)
        probs = F.softmax(self.gate(x), dim=-1)  # [n, t, e]
        g, m = torch.topk(probs.permute(0, 2, 1), k, dim=-1)  # [n, e, k]
        if self.impl == "gather":
            e = self.num_experts
            index = m.reshape(n, e * k, 1).expand(n, e * k, d)
            xin = x.gather(1, index).reshape(n, e, k, d)
            h = self.gelu(xin.matmul(self.w1.unsqueeze(0))).matmul(self.w2.unsqueeze(0))
            out = (g.unsqueeze(-1) * h).reshape(n, e * k, d).to(x.dtype)
            return torch.zeros_like(x).scatter_add(1, index, out)
        p = F.one_hot(m, num_classes=t).to(x.dtype)  # [n, e, k, t]
        xin = torch.einsum("nekt,ntd->nekd", p, x)
        h = self.gelu(torch.einsum("nekd,edf->nekf", xin, self.w1))
        h = torch.einsum("nekf,efd->nekd", h, self.w2)
        return torch.einsum("nekt,nekd->ntd", p, g.unsqueeze(-1) * h)


class AttentionBlockPromptEmbedding(nn.Module):
    def __init__(self, dim: int, head_dim: int, mlp_ratio: float, multiple_of: int, norm_eps: float, use_bias: bool):
        super().__init__()
        assert dim % head_dim == 0
        self.dim = dim
        self.num_heads = dim // head_dim
        self.norm1 = create_norm("layernorm", dim, norm_eps)
        self.attn = SelfAttention(dim, self.num_heads, qkv_bias=use_bias, norm_eps=norm_eps)
        self.norm2 = create_norm("layernorm", dim, norm_eps)
        self.mlp = FeedForward(dim, int(dim * mlp_ratio), multiple_of, use_bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class DiTBlock(nn.Module):
    def __init__(self, dim: int, head_dim: int, mlp_ratio: float, qkv_ratio: float, multiple_of: int,
                 pooled_emb_dim: int, norm_eps: float, compress_xattn: bool, use_bias: bool, moe_block: bool,
                 num_experts: int, expert_capacity: float):
        super().__init__()
        self.dim = dim
        if qkv_ratio != 1:
            step = head_dim * 2
            qkv_hidden = step * ((int(dim * qkv_ratio) + step - 1) // step)
        else:
            qkv_hidden = dim
        mlp_hidden = int(dim * mlp_ratio)
        self.norm1 = create_norm("layernorm", dim, norm_eps)
        self.attn = SelfAttention(dim, qkv_hidden // head_dim, qkv_bias=use_bias, norm_eps=norm_eps, hidden_dim=qkv_hidden)
        x_hidden = qkv_hidden if compress_xattn else dim
        self.cross_attn = CrossAttention(dim, x_hidden // head_dim, qkv_bias=use_bias, norm_eps=norm_eps, hidden_dim=x_hidden)
        self.norm2 = create_norm("layernorm", dim, norm_eps)
        self.norm3 = create_norm("layernorm", dim, norm_eps)
        self.mlp = (FeedForwardECMoe(num_experts, expert_capacity, dim, mlp_hidden, multiple_of) if moe_block
                    else FeedForward(dim, mlp_hidden, multiple_of, use_bias))
        self.adaLN_modulation = nn.Sequential(nn.GELU(approximate="tanh"), nn.Linear(pooled_emb_dim, 6 * dim, bias=True))

    def forward(self, x: torch.Tensor, y: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp = self.adaLN_modulation(c).chunk(6, dim=1)
        x = x + gate_msa.unsqueeze(1) * self.attn(modulate(self.norm1(x), shift_msa, scale_msa))
        x = x + self.cross_attn(self.norm2(x), y)
        x = x + gate_mlp.unsqueeze(1) * self.mlp(modulate(self.norm3(x), shift_mlp, scale_mlp))
        return x


def _norm_linear(in_dim: int, out_dim: int, eps: float, bias: bool) -> nn.Sequential:
    return nn.Sequential(create_norm("layernorm", in_dim, eps), nn.Linear(in_dim, out_dim, bias=bias))


class DiT(nn.Module):
    def __init__(self, input_size: int = 32, patch_size: int = 2, in_channels: int = 4, dim: int = 1152,
                 depth: int = 28, head_dim: int = 64, multiple_of: int = 256, caption_channels: int = 1024,
                 pos_interp_scale: float = 1.0, norm_eps: float = 1e-6, depth_init: bool = True,
                 qkv_multipliers: List[float] = (1.0,), ffn_multipliers: List[float] = (4.0,),
                 use_patch_mixer: bool = True, patch_mixer_depth: int = 4, patch_mixer_dim: int = 512,
                 patch_mixer_qkv_ratio: float = 1.0, patch_mixer_mlp_ratio: float = 1.0, use_bias: bool = True,
                 num_experts: int = 8, expert_capacity: float = 1, experts_every_n: int = 2):
        super().__init__()
        del depth_init  # only affects initialisation, and weights are loaded
        self.input_size = input_size
        self.in_channels = in_channels
        self.out_channels = in_channels
        self.patch_size = patch_size
        self.head_dim = head_dim
        self.pos_interp_scale = pos_interp_scale
        self.use_patch_mixer = use_patch_mixer

        self.x_embedder = PatchEmbed(input_size, patch_size, in_channels, dim, bias=True)
        self.t_embedder = TimestepEmbedder(dim, approx_gelu)
        num_patches = self.x_embedder.num_patches
        self.base_size = input_size // patch_size
        grid = int(num_patches ** 0.5)
        self.register_buffer("pos_embed", sincos_pos_embed_2d(dim, grid, pos_interp_scale, self.base_size).float().unsqueeze(0))
        self.y_embedder = CaptionProjection(caption_channels, dim, approx_gelu, create_norm("layernorm", dim, norm_eps))
        self.y_emb_preprocess = AttentionBlockPromptEmbedding(dim, head_dim, 4.0, multiple_of, norm_eps, use_bias)
        self.pooled_y_emb_process = Mlp(dim, dim, dim, approx_gelu, norm_layer=create_norm("layernorm", dim, norm_eps))

        def block(d: int, mlp_ratio: float, qkv_ratio: float, moe: bool) -> DiTBlock:
            return DiTBlock(d, head_dim, mlp_ratio, qkv_ratio, multiple_of, dim, norm_eps, False, use_bias, moe,
                            num_experts, expert_capacity)

        if use_patch_mixer:
            mixer_moe = [i >= 1 and (i + 1) % experts_every_n == 0 for i in range(patch_mixer_depth)]
            self.patch_mixer = nn.ModuleList([
                block(patch_mixer_dim, patch_mixer_mlp_ratio, patch_mixer_qkv_ratio, mixer_moe[i])
                for i in range(patch_mixer_depth)
            ])
            if patch_mixer_dim != dim:
                self.patch_mixer_map_xin = _norm_linear(dim, patch_mixer_dim, norm_eps, use_bias)
                self.patch_mixer_map_xout = _norm_linear(patch_mixer_dim, dim, norm_eps, use_bias)
                self.patch_mixer_map_y = _norm_linear(dim, patch_mixer_dim, norm_eps, use_bias)
            else:
                self.patch_mixer_map_xin = nn.Identity()
                self.patch_mixer_map_xout = nn.Identity()
                self.patch_mixer_map_y = nn.Identity()

        qkv_multipliers, ffn_multipliers = list(qkv_multipliers), list(ffn_multipliers)
        assert len(qkv_multipliers) == len(ffn_multipliers)
        if len(ffn_multipliers) == depth:
            qkv_ratios, mlp_ratios = qkv_multipliers, ffn_multipliers
        else:
            assert depth % len(ffn_multipliers) == 0, "number of blocks should be divisible by number of splits"
            per = depth // len(ffn_multipliers)
            qkv_ratios = [m for m in qkv_multipliers for _ in range(per)]
            mlp_ratios = [m for m in ffn_multipliers for _ in range(per)]
        # MoE every n-th block, never the last one.
        moe = [i < depth - 1 and (i + 1) % experts_every_n == 0 for i in range(depth)]
        self.blocks = nn.ModuleList([block(dim, mlp_ratios[i], qkv_ratios[i], moe[i]) for i in range(depth)])
        self.register_buffer("mask_token", torch.zeros(1, 1, patch_size ** 2 * self.out_channels))
        self.final_layer = T2IFinalLayer(dim, dim, patch_size, self.out_channels, approx_gelu,
                                         create_norm("layernorm", dim, norm_eps))

    def forward_without_cfg(self, x: torch.Tensor, t: torch.Tensor, y: torch.Tensor) -> Dict[str, torch.Tensor]:
        x = self.x_embedder(x) + self.pos_embed  # [N, T, D]
        t = self.t_embedder(t.expand(x.shape[0]))  # [N, D]
        y = self.y_embedder(y)  # [N, 1, L, D]
        y = self.y_emb_preprocess(y.squeeze(dim=1)).unsqueeze(dim=1)
        t = t + self.pooled_y_emb_process(y.mean(dim=-2).squeeze(dim=1))
        if self.use_patch_mixer:
            x = self.patch_mixer_map_xin(x)
            y_mixer = self.patch_mixer_map_y(y)
            for blk in self.patch_mixer:
                x = blk(x, y_mixer, t)
            x = self.patch_mixer_map_xout(x)
        for blk in self.blocks:
            x = blk(x, y, t)
        x = self.final_layer(x, t)
        return {"sample": self.unpatchify(x)}

    def forward_with_cfg(self, x: torch.Tensor, t: torch.Tensor, y: torch.Tensor, cfg: float) -> Dict[str, torch.Tensor]:
        x = torch.cat([x, x], 0)
        y = torch.cat([y, torch.zeros_like(y)], 0)
        if len(t) != 1:
            t = torch.cat([t, t], 0)
        eps = self.forward_without_cfg(x, t, y)["sample"]
        cond, uncond = torch.split(eps, len(eps) // 2, dim=0)
        return {"sample": uncond + cfg * (cond - uncond)}

    def forward(self, x: torch.Tensor, t: torch.Tensor, y: torch.Tensor, cfg: float = 1.0) -> Dict[str, torch.Tensor]:
        if cfg != 1.0:
            return self.forward_with_cfg(x, t, y, cfg)
        return self.forward_without_cfg(x, t, y)

    def unpatchify(self, x: torch.Tensor) -> torch.Tensor:
        c = self.out_channels
        p = self.patch_size
        h = w = int(x.shape[1] ** 0.5)
        assert h * w == x.shape[1]
        x = x.reshape(x.shape[0], h, w, p, p, c)
        x = torch.einsum("nhwpqc->nchpwq", x)
        return x.reshape(x.shape[0], c, h * p, w * p)


# --------------------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------------------


def read_json_arg(arg: str) -> dict:
    text = arg if arg.lstrip().startswith("{") else open(arg, encoding="utf-8").read()
    return json.loads(text)


def build_model(config: dict) -> DiT:
    cfg = config.get("dit_config", config)
    return DiT(**cfg)


def load_model(config: dict, weights: str) -> DiT:
    model = build_model(config)
    sd = load_safetensors(weights)
    missing, unexpected = model.load_state_dict(sd, strict=False)
    if missing or unexpected:
        raise SystemExit(f"microdit_ref: state dict mismatch: missing {missing}, unexpected {unexpected}")
    return model


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def run_forward(args) -> None:
    device = torch.device(args.device)
    model = load_model(read_json_arg(args.config), args.weights).to(device).eval()
    io = load_safetensors(args.inputs)
    x, t, y = (io[k].to(device) for k in ("x", "t", "y"))
    cfg = float(io["cfg"].item()) if "cfg" in io else 1.0
    with torch.no_grad():
        out = model(x, t, y, cfg=cfg)["sample"]
    save_safetensors(args.out, {"out": out.float().cpu()})


def read_status_kb(key: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise OSError(f"/proc/self/status has no {key}")


def run_bench(args) -> None:
    b = read_json_arg(args.bench)
    warmup, repeats = int(b.get("warmup", 2)), int(b.get("repeats", 5))
    threads = b.get("threads")
    if threads:
        torch.set_num_threads(int(threads))
    device = torch.device(b.get("device", "cpu"))
    dtype = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}[b.get("dtype", "float32")]
    FeedForwardECMoe.impl = b.get("moe", "einsum")
    model = load_model(read_json_arg(args.config), args.weights).to(device=device, dtype=dtype)
    io = load_safetensors(args.inputs)
    x = io["x"].to(device=device, dtype=dtype)
    y = io["y"].to(device=device, dtype=dtype)
    t = io["t"].to(device=device)
    params = [p for p in model.parameters()]
    use_autocast = device.type == "cuda" and dtype != torch.float32

    def fwd():
        # torch 1.13 validates the dtype even for enabled=False on a CPU-only build: no context then.
        with torch.autocast("cuda", dtype=dtype) if use_autocast else contextlib.nullcontext():
            return model(x, t, y)["sample"]

    cpu_samples: Dict[str, List[float]] = {}

    def timed(fn, name: str) -> List[float]:
        # Wall time, and this process's CPU time (all threads): the latter is what to compare on a
        # busy CPU, where wall time depends on what else runs.
        out, cpu = [], []
        for i in range(warmup + repeats):
            for p in params:
                p.grad = None
            sync(device)
            c0 = time.process_time()
            t0 = time.perf_counter()
            fn()
            sync(device)
            if i >= warmup:
                out.append((time.perf_counter() - t0) * 1e3)
                cpu.append((time.process_time() - c0) * 1e3)
        cpu_samples[name] = cpu
        return out

    def forward_only():
        with torch.no_grad():
            fwd()

    def forward_backward():
        out = fwd()
        out.float().square().sum().backward()

    def rss_rise(fn) -> Tuple[List[float], Optional[float]]:
        # Peak resident memory above the level before `fn`, in MiB (Linux): writing 5 to clear_refs
        # resets VmHWM, so the mark afterwards is this loop's own peak. The Node side measures the same.
        try:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")
            base = read_status_kb("VmRSS")
        except OSError:
            return fn(), None
        out = fn()
        return out, (read_status_kb("VmHWM") - base) / 1024

    result = {"torch_version": torch.__version__, "threads": torch.get_num_threads(), "device": str(device),
              "dtype": str(dtype).replace("torch.", ""), "sdpa": HAS_SDPA, "moe": FeedForwardECMoe.impl}
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    fw, result["forward_rss_rise_mb"] = rss_rise(lambda: timed(forward_only, "forward"))
    result["forward_ms"] = statistics.median(fw)
    result["forward_all_ms"] = fw
    result["forward_cpu_ms"] = statistics.median(cpu_samples["forward"])
    if device.type == "cuda":
        result["forward_peak_mb"] = torch.cuda.max_memory_allocated(device) / 2 ** 20
    if b.get("backward", True):
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)
        fb, result["fwd_bwd_rss_rise_mb"] = rss_rise(lambda: timed(forward_backward, "fwd_bwd"))
        result["fwd_bwd_ms"] = statistics.median(fb)
        result["fwd_bwd_all_ms"] = fb
        result["fwd_bwd_cpu_ms"] = statistics.median(cpu_samples["fwd_bwd"])
        if device.type == "cuda":
            result["fwd_bwd_peak_mb"] = torch.cuda.max_memory_allocated(device) / 2 ** 20
    print(json.dumps(result))


def main(argv: Optional[List[str]] = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", required=True, help="DiT arguments (JSON file or inline JSON)")
    ap.add_argument("--weights", required=True, help="state dict (.safetensors, upstream key names)")
    ap.add_argument("--inputs", required=True, help="x, t, y (.safetensors)")
    ap.add_argument("--out", help="write forward(x, t, y) here (float32)")
    ap.add_argument("--device", default="cpu", help="device for --out (forward runs in float32)")
    ap.add_argument("--threads", type=int, help="torch.set_num_threads for --out")
    ap.add_argument("--bench", help='JSON: {"warmup", "repeats", "backward", "threads", "device", "dtype", "moe"}')
    args = ap.parse_args(argv)
    if (args.out is None) == (args.bench is None):
        ap.error("give exactly one of --out and --bench")
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.out:
        run_forward(args)
    else:
        run_bench(args)


if __name__ == "__main__":
    main()
