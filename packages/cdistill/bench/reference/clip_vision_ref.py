#!/usr/bin/env python3
"""PyTorch reference of an OpenCLIP ViT CLIP model (open_clip's `CLIP` with a `VisionTransformer`
image tower), written from the published math for the golden case `reference/clip/clip_vit_tiny.*`.

The module tree equals open_clip's state dict: the text tower at the root (`token_embedding`,
`positional_embedding`, `transformer.resblocks.N.*`, `ln_final`, `text_projection`), the image tower
under `visual.` (`conv1` without bias, `class_embedding`, `positional_embedding`, `ln_pre`,
`transformer.resblocks.N.*`, `ln_post`, `proj`) and `logit_scale`. A residual block is
x + attn(ln_1(x)), then + mlp(ln_2(x)); attention is torch's own nn.MultiheadAttention (the layout
open_clip stores: packed in_proj_weight/bias, out_proj), so it is an implementation independent of
the TypeScript one. Only what the DFN5B ViT-H-14-378 configuration uses is here: learnable position
embeddings, LayerNorm before the transformer, class-token pooling after ln_post, no attentional
pooler, no patch dropout, no layer scale.

Image preprocessing is open_clip's torchvision path on 8-bit RGB images, run through Pillow itself
(Resize with bicubic, then CenterCrop for resize_mode "shortest"; Resize to the square for
"squash"), so the TypeScript resampler is checked against the library upstream uses, not against
a second reimplementation of it.

Usage (writes the case; needs torch, numpy and Pillow):
  clip_vision_ref.py --out-dir reference/clip
"""
import argparse
import json
import math
import os
import struct
from collections import OrderedDict

import numpy as np
import torch
import torch.nn as nn
from PIL import Image

OPENAI_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_STD = (0.26862954, 0.26130258, 0.27577711)


class QuickGELU(nn.Module):
    def forward(self, x):
        return x * torch.sigmoid(1.702 * x)


class Block(nn.Module):
    def __init__(self, width, heads, mlp_ratio, quick_gelu):
        super().__init__()
        hidden = int(width * mlp_ratio)
        self.ln_1 = nn.LayerNorm(width)
        self.attn = nn.MultiheadAttention(width, heads, batch_first=True)
        self.ln_2 = nn.LayerNorm(width)
        act = QuickGELU() if quick_gelu else nn.GELU()
        self.mlp = nn.Sequential(
            OrderedDict([("c_fc", nn.Linear(width, hidden)), ("gelu", act), ("c_proj", nn.Linear(hidden, width))])
        )

    def forward(self, x, mask=None):
        h = self.ln_1(x)
        x = x + self.attn(h, h, h, need_weights=False, attn_mask=mask)[0]
        return x + self.mlp(self.ln_2(x))


class Transformer(nn.Module):
    def __init__(self, width, layers, heads, mlp_ratio, quick_gelu):
        super().__init__()
        self.resblocks = nn.ModuleList([Block(width, heads, mlp_ratio, quick_gelu) for _ in range(layers)])

    def forward(self, x, mask=None):
        for b in self.resblocks:
            x = b(x, mask)
        return x


class Visual(nn.Module):
    def __init__(self, v, embed_dim, quick_gelu):
        super().__init__()
        width, patch = v["width"], v["patch_size"]
        grid = v["image_size"] // patch
        self.conv1 = nn.Conv2d(3, width, kernel_size=patch, stride=patch, bias=False)
        self.class_embedding = nn.Parameter(torch.zeros(width))
        self.positional_embedding = nn.Parameter(torch.zeros(grid * grid + 1, width))
        self.ln_pre = nn.LayerNorm(width)
        heads = width // v.get("head_width", 64)
        self.transformer = Transformer(width, v["layers"], heads, v.get("mlp_ratio", 4.0), quick_gelu)
        self.ln_post = nn.LayerNorm(width)
        self.proj = nn.Parameter(torch.zeros(width, embed_dim))

    def forward(self, pixels):
        x = self.conv1(pixels)  # [B, width, g, g]
        x = x.flatten(2).transpose(1, 2)  # patches in row-major order: [B, g*g, width]
        cls = self.class_embedding.to(x.dtype).expand(x.shape[0], 1, -1)
        x = torch.cat([cls, x], dim=1) + self.positional_embedding
        x = self.transformer(self.ln_pre(x))
        return self.ln_post(x)[:, 0] @ self.proj


class Clip(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        t, q = cfg["text_cfg"], cfg.get("quick_gelu", False)
        self.ctx = t["context_length"]
        self.token_embedding = nn.Embedding(t["vocab_size"], t["width"])
        self.positional_embedding = nn.Parameter(torch.zeros(self.ctx, t["width"]))
        self.transformer = Transformer(t["width"], t["layers"], t["heads"], 4.0, q)
        self.ln_final = nn.LayerNorm(t["width"])
        self.text_projection = nn.Parameter(torch.zeros(t["width"], cfg["embed_dim"]))
        self.visual = Visual(cfg["vision_cfg"], cfg["embed_dim"], q)
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / 0.07)))

    def encode_image(self, pixels):
        return self.visual(pixels)

    def encode_text(self, ids):
        L = ids.shape[1]
        x = self.token_embedding(ids) + self.positional_embedding[:L]
        mask = torch.full((L, L), float("-inf"), dtype=x.dtype).triu(1)  # additive causal mask
        x = self.ln_final(self.transformer(x, mask))
        # open_clip's "argmax" pooling: the EOT token has the highest id of every sequence.
        pooled = x[torch.arange(x.shape[0]), ids.argmax(dim=-1)]
        return pooled @ self.text_projection


# ------------------------------------------------------------------------------------ preprocessing


def pil_resize(img, out_h, out_w):
    """uint8 [H, W, 3] -> uint8 [out_h, out_w, 3] through Pillow's own bicubic resampling: what
    torchvision's Resize does to a PIL image (antialiased, 8-bit after each pass)."""
    return np.asarray(Image.fromarray(img, "RGB").resize((out_w, out_h), Image.BICUBIC))


def preprocess(images, size, mode, mean, std):
    """open_clip's image_transform for a square model input: "squash" is Resize((size, size));
    "shortest" is Resize(size) (the short side to `size`, the long side truncated) then CenterCrop
    (offsets rounded with Python's round); then ToTensor (/255) and Normalize, here in float64."""
    out = []
    for img in images:
        h, w, _ = img.shape
        if mode == "squash":
            r = pil_resize(img, size, size)
        else:
            if h <= w:
                nh, nw = size, int(size * w / h)
            else:
                nh, nw = int(size * h / w), size
            r = pil_resize(img, nh, nw)
            top, left = int(round((nh - size) / 2.0)), int(round((nw - size) / 2.0))
            r = r[top : top + size, left : left + size]
        x = r.astype(np.float64).transpose(2, 0, 1) / 255.0
        out.append((x - np.array(mean)[:, None, None]) / np.array(std)[:, None, None])
    return np.stack(out)


# ------------------------------------------------------------------------------------ the golden case


def randomize(model, gen):
    """Unit-scale random weights, every one exactly a float32: matrices N(0, 1/fan_in), LayerNorm
    scales 1 + N(0, 0.1^2), biases N(0, 0.1^2), embeddings N(0, 1/width)."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name == "logit_scale":
                continue
            if p.ndim == 1 and name.endswith("class_embedding"):
                p.copy_(torch.randn(p.shape, generator=gen) / math.sqrt(p.shape[0]))
            elif p.ndim == 1:
                p.copy_((1.0 if "ln" in name and name.endswith("weight") else 0.0) + 0.1 * torch.randn(p.shape, generator=gen))
            elif name.endswith("positional_embedding") or name.endswith("token_embedding.weight"):
                p.copy_(torch.randn(p.shape, generator=gen) / math.sqrt(p.shape[1]))
            elif name.endswith("proj") or name.endswith("projection"):  # used as x @ P: fan_in is rows
                p.copy_(torch.randn(p.shape, generator=gen) / math.sqrt(p.shape[0]))
            else:
                p.copy_(torch.randn(p.shape, generator=gen) / math.sqrt(p[0].numel()))


ST_NAMES = {torch.float32: "F32", torch.float64: "F64", torch.int64: "I64", torch.uint8: "U8"}


def save_safetensors(path, tensors):
    """Standard safetensors: 8-byte little-endian header length, JSON header, raw little-endian data
    (0-d tensors such as logit_scale included)."""
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        raw = t.detach().contiguous().reshape(-1).numpy().astype(t.numpy().dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": ST_NAMES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def normalize(x):
    return x / x.norm(dim=-1, keepdim=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out-dir", required=True)
    ap.add_argument("--name", default="clip_vit_tiny")
    args = ap.parse_args()
    model_cfg = {
        "embed_dim": 24,
        "quick_gelu": True,
        "vision_cfg": {"image_size": 16, "patch_size": 4, "width": 32, "layers": 2, "head_width": 8, "mlp_ratio": 4.0},
        "text_cfg": {"context_length": 12, "vocab_size": 64, "width": 16, "heads": 2, "layers": 2},
    }
    pre_cfg = {"mean": list(OPENAI_MEAN), "std": list(OPENAI_STD), "interpolation": "bicubic", "resize_mode": "squash"}
    gen = torch.Generator().manual_seed(12)
    model = Clip(model_cfg)
    randomize(model, gen)
    weights = OrderedDict((k, v.detach().clone()) for k, v in model.state_dict().items())

    pixels = torch.randn(2, 3, 16, 16, generator=gen)
    ids = torch.zeros(3, 12, dtype=torch.int64)
    for row, eot in enumerate([3, 11, 6]):  # the highest id (63, the "EOT") at a different place per row
        ids[row, 0] = 62
        ids[row, 1:eot] = torch.randint(1, 62, (eot - 1,), generator=gen)
        ids[row, eot] = 63
    # uint8 HWC, as decoded PNGs are: wider than tall (downscale < 2), an upscale, and taller than
    # wide with a downscale > 2 (where the antialiasing widens the kernel).
    shapes = {"down": (20, 28), "up": (10, 12), "tall": (45, 37)}
    images = {tag: torch.randint(0, 256, (2, h, w, 3), generator=gen).to(torch.uint8) for tag, (h, w) in shapes.items()}

    m64 = Clip(model_cfg).double()
    m64.load_state_dict(weights)
    m64.eval()
    out = OrderedDict()
    size, mean, std = model_cfg["vision_cfg"]["image_size"], pre_cfg["mean"], pre_cfg["std"]
    with torch.no_grad():
        out["out.image_features"] = m64.encode_image(pixels.double())
        out["out.text_features"] = m64.encode_text(ids)
        for tag, imgs in images.items():
            for mode in ("squash", "shortest"):
                p = preprocess(imgs.numpy(), size, mode, mean, std)
                out[f"out.preprocessed_{tag}_{mode}"] = torch.from_numpy(p)
        # The model's own mode (squash) end to end: 8-bit image -> unit-norm joint embedding.
        out["out.image_embeds"] = normalize(m64.encode_image(out["out.preprocessed_down_squash"]))
        out["out.text_embeds"] = normalize(out["out.text_features"])
        # How far upstream-style float32 lands from the float64 truth (reported, not stored).
        m32 = Clip(model_cfg)
        m32.load_state_dict(weights)
        m32.eval()
        rel = lambda a, b: float((a.double() - b).norm() / b.norm())
        print("float32 vs float64: image_features %.2e, text_features %.2e" % (
            rel(m32.encode_image(pixels), out["out.image_features"]),
            rel(m32.encode_text(ids), out["out.text_features"])))

    os.makedirs(args.out_dir, exist_ok=True)
    base = os.path.join(args.out_dir, args.name)
    with open(base + ".json", "w") as f:
        json.dump({"clip_config": {"model_cfg": model_cfg, "preprocess_cfg": pre_cfg}}, f, indent=1)
        f.write("\n")
    save_safetensors(base + ".safetensors", weights)
    # The same weights as torch.save writes them (zip + pickle), the format of open_clip_pytorch_model.bin.
    torch.save(weights, base + ".pt")
    io = OrderedDict([("in.pixel_values", pixels), ("in.input_ids", ids)])
    io.update((f"in.images_{tag}", t) for tag, t in images.items())
    io.update(out)
    save_safetensors(base + ".io.safetensors", io)
    print("wrote", base + ".{json,safetensors,pt,io.safetensors}")


if __name__ == "__main__":
    main()
