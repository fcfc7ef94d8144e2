#!/usr/bin/env python3
"""PyTorch reference of the FID Inception-v3 feature extractor (the network behind pytorch-fid's
`pt_inception-2015-12-05-6726825d.pth` and clean-fid's "legacy_pytorch" mode), written from the
published architecture for the golden case `reference/inception/fid_inception_tiny.*`.

The module tree is torchvision's Inception3 (the state-dict keys of the published weights):
Conv2d_1a_3x3 … Conv2d_4a_3x3, Mixed_5b … Mixed_7c, fc; every convolution is a `BasicConv2d`
(`.conv` without bias, `.bn` BatchNorm with eps 0.001, then ReLU). The FID variant differs from
torchvision's in four places, all kept here: the average pools inside Mixed_5*, Mixed_6b-e and
Mixed_7b leave the zero padding out of the mean (TensorFlow's rule), and Mixed_7c's pool branch
takes a 3×3 max pool (stride 1, padding 1) instead of an average. Features are the 2048-d output of
the final global average pool, after a bilinear resize of the [0, 1] input to 299×299
(align_corners False, no antialiasing) and scaling to [-1, 1].

`--width-divisor d` divides every channel count by d (16 for the golden case, so it stays small);
the published network is d = 1. The classifier `fc` is written with 8 outputs in the tiny case
(the published one has 1008): feature extraction never uses it, and the loader must ignore it.

Weights are float32 values; the expected outputs are computed in float64. The weights are written
three ways: `torch.save` in the legacy format (`_use_new_zipfile_serialization=False`, as the
published .pth), the zip format (`.pt`), and safetensors.

Usage (needs torch and numpy):
  fid_inception_ref.py --out-dir reference/inception
  fid_inception_ref.py --bench DIR --threads 1 --repeats 3
The second form is `npm run bench -- inception`'s baseline: it loads DIR/weights.safetensors (the
published network's keys, written by the TypeScript side) and DIR/pixels.safetensors, times the
float32 forward and writes DIR/out.safetensors, then prints one JSON line of timings.
"""
import argparse
import json
import os
import struct
from collections import OrderedDict

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


class BasicConv2d(nn.Module):
    def __init__(self, cin, cout, kernel, stride=1, padding=0):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, stride=stride, padding=padding, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=0.001)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)))


def tf_avg_pool(x):
    return F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)


class MixedA(nn.Module):  # torchvision InceptionA, FID pooling
    def __init__(self, cin, pool, d):
        super().__init__()
        self.branch1x1 = BasicConv2d(cin, 64 // d, 1)
        self.branch5x5_1 = BasicConv2d(cin, 48 // d, 1)
        self.branch5x5_2 = BasicConv2d(48 // d, 64 // d, 5, padding=2)
        self.branch3x3dbl_1 = BasicConv2d(cin, 64 // d, 1)
        self.branch3x3dbl_2 = BasicConv2d(64 // d, 96 // d, 3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96 // d, 96 // d, 3, padding=1)
        self.branch_pool = BasicConv2d(cin, pool, 1)

    def forward(self, x):
        a = self.branch1x1(x)
        b = self.branch5x5_2(self.branch5x5_1(x))
        c = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        p = self.branch_pool(tf_avg_pool(x))
        return torch.cat([a, b, c, p], 1)


class MixedB(nn.Module):  # torchvision InceptionB (Mixed_6a): grid reduction
    def __init__(self, cin, d):
        super().__init__()
        self.branch3x3 = BasicConv2d(cin, 384 // d, 3, stride=2)
        self.branch3x3dbl_1 = BasicConv2d(cin, 64 // d, 1)
        self.branch3x3dbl_2 = BasicConv2d(64 // d, 96 // d, 3, padding=1)
        self.branch3x3dbl_3 = BasicConv2d(96 // d, 96 // d, 3, stride=2)

    def forward(self, x):
        a = self.branch3x3(x)
        b = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        return torch.cat([a, b, F.max_pool2d(x, 3, stride=2)], 1)


class MixedC(nn.Module):  # torchvision InceptionC, FID pooling: factorised 7×7
    def __init__(self, cin, c7, d):
        super().__init__()
        self.branch1x1 = BasicConv2d(cin, 192 // d, 1)
        self.branch7x7_1 = BasicConv2d(cin, c7, 1)
        self.branch7x7_2 = BasicConv2d(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7_3 = BasicConv2d(c7, 192 // d, (7, 1), padding=(3, 0))
        self.branch7x7dbl_1 = BasicConv2d(cin, c7, 1)
        self.branch7x7dbl_2 = BasicConv2d(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_3 = BasicConv2d(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7dbl_4 = BasicConv2d(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_5 = BasicConv2d(c7, 192 // d, (1, 7), padding=(0, 3))
        self.branch_pool = BasicConv2d(cin, 192 // d, 1)

    def forward(self, x):
        a = self.branch1x1(x)
        b = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        c = x
        for name in ("1", "2", "3", "4", "5"):
            c = getattr(self, "branch7x7dbl_" + name)(c)
        p = self.branch_pool(tf_avg_pool(x))
        return torch.cat([a, b, c, p], 1)


class MixedD(nn.Module):  # torchvision InceptionD (Mixed_7a): grid reduction
    def __init__(self, cin, d):
        super().__init__()
        self.branch3x3_1 = BasicConv2d(cin, 192 // d, 1)
        self.branch3x3_2 = BasicConv2d(192 // d, 320 // d, 3, stride=2)
        self.branch7x7x3_1 = BasicConv2d(cin, 192 // d, 1)
        self.branch7x7x3_2 = BasicConv2d(192 // d, 192 // d, (1, 7), padding=(0, 3))
        self.branch7x7x3_3 = BasicConv2d(192 // d, 192 // d, (7, 1), padding=(3, 0))
        self.branch7x7x3_4 = BasicConv2d(192 // d, 192 // d, 3, stride=2)

    def forward(self, x):
        a = self.branch3x3_2(self.branch3x3_1(x))
        b = x
        for name in ("1", "2", "3", "4"):
            b = getattr(self, "branch7x7x3_" + name)(b)
        return torch.cat([a, b, F.max_pool2d(x, 3, stride=2)], 1)


class MixedE(nn.Module):  # torchvision InceptionE with the FID pool branch (average or max)
    def __init__(self, cin, d, max_pool):
        super().__init__()
        self.max_pool = max_pool
        self.branch1x1 = BasicConv2d(cin, 320 // d, 1)
        self.branch3x3_1 = BasicConv2d(cin, 384 // d, 1)
        self.branch3x3_2a = BasicConv2d(384 // d, 384 // d, (1, 3), padding=(0, 1))
        self.branch3x3_2b = BasicConv2d(384 // d, 384 // d, (3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = BasicConv2d(cin, 448 // d, 1)
        self.branch3x3dbl_2 = BasicConv2d(448 // d, 384 // d, 3, padding=1)
        self.branch3x3dbl_3a = BasicConv2d(384 // d, 384 // d, (1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = BasicConv2d(384 // d, 384 // d, (3, 1), padding=(1, 0))
        self.branch_pool = BasicConv2d(cin, 192 // d, 1)

    def forward(self, x):
        a = self.branch1x1(x)
        b = self.branch3x3_1(x)
        b = torch.cat([self.branch3x3_2a(b), self.branch3x3_2b(b)], 1)
        c = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        c = torch.cat([self.branch3x3dbl_3a(c), self.branch3x3dbl_3b(c)], 1)
        pooled = F.max_pool2d(x, 3, stride=1, padding=1) if self.max_pool else tf_avg_pool(x)
        return torch.cat([a, b, c, self.branch_pool(pooled)], 1)


class FIDInception(nn.Module):
    def __init__(self, d, classes):
        super().__init__()
        self.Conv2d_1a_3x3 = BasicConv2d(3, 32 // d, 3, stride=2)
        self.Conv2d_2a_3x3 = BasicConv2d(32 // d, 32 // d, 3)
        self.Conv2d_2b_3x3 = BasicConv2d(32 // d, 64 // d, 3, padding=1)
        self.Conv2d_3b_1x1 = BasicConv2d(64 // d, 80 // d, 1)
        self.Conv2d_4a_3x3 = BasicConv2d(80 // d, 192 // d, 3)
        self.Mixed_5b = MixedA(192 // d, 32 // d, d)
        self.Mixed_5c = MixedA(256 // d, 64 // d, d)
        self.Mixed_5d = MixedA(288 // d, 64 // d, d)
        self.Mixed_6a = MixedB(288 // d, d)
        self.Mixed_6b = MixedC(768 // d, 128 // d, d)
        self.Mixed_6c = MixedC(768 // d, 160 // d, d)
        self.Mixed_6d = MixedC(768 // d, 160 // d, d)
        self.Mixed_6e = MixedC(768 // d, 192 // d, d)
        self.Mixed_7a = MixedD(768 // d, d)
        self.Mixed_7b = MixedE(1280 // d, d, max_pool=False)
        self.Mixed_7c = MixedE(2048 // d, d, max_pool=True)
        self.fc = nn.Linear(2048 // d, classes)

    def resize(self, images01):
        x = F.interpolate(images01, size=(299, 299), mode="bilinear", align_corners=False)
        return 2 * x - 1

    def features(self, x):
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
        x = F.max_pool2d(x, 3, stride=2)
        x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x))
        x = F.max_pool2d(x, 3, stride=2)
        for name in ("5b", "5c", "5d", "6a", "6b", "6c", "6d", "6e", "7a", "7b", "7c"):
            x = getattr(self, "Mixed_" + name)(x)
        return x.mean((2, 3))


def randomise(model, gen):
    """He-scaled convolutions and BatchNorm statistics near (but not at) the identity, so the
    activations neither vanish nor explode through the 94 layers and every parameter matters."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.Conv2d):
                fan_in = m.weight[0].numel()
                m.weight.copy_(torch.randn(m.weight.shape, generator=gen) * (2.0 / fan_in) ** 0.5)
            elif isinstance(m, nn.BatchNorm2d):
                n = m.num_features
                m.weight.copy_(0.8 + 0.4 * torch.rand(n, generator=gen))
                m.bias.copy_(0.1 * torch.randn(n, generator=gen))
                m.running_mean.copy_(0.1 * torch.randn(n, generator=gen))
                m.running_var.copy_(0.5 + torch.rand(n, generator=gen))
                m.num_batches_tracked.fill_(1000)
            elif isinstance(m, nn.Linear):
                m.weight.copy_(0.05 * torch.randn(m.weight.shape, generator=gen))
                m.bias.copy_(0.05 * torch.randn(m.bias.shape, generator=gen))


DTYPES = {torch.float32: "F32", torch.float64: "F64", torch.int64: "I64", torch.uint8: "U8"}


def write_safetensors(path, tensors):
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        data = t.contiguous().numpy().tobytes()
        header[name] = {"dtype": DTYPES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(raw)))
        f.write(raw)
        for b in blobs:
            f.write(b)


NP_DTYPES = {"F32": np.float32, "F64": np.float64, "I64": np.int64, "U8": np.uint8}


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        a, b = e["data_offsets"]
        arr = np.frombuffer(data[a:b], dtype=NP_DTYPES[e["dtype"]]).reshape(e["shape"])
        out[name] = torch.from_numpy(arr.copy())
    return out


def bench(a):
    import resource
    import time

    torch.set_num_threads(a.threads)
    weights = read_safetensors(os.path.join(a.bench, "weights.safetensors"))
    pixels = read_safetensors(os.path.join(a.bench, "pixels.safetensors"))["pixels"]
    d = 32 // weights["Conv2d_1a_3x3.conv.weight"].shape[0]
    model = FIDInception(d, classes=1008).eval()
    missing = model.load_state_dict(weights, strict=False).missing_keys
    assert missing == ["fc.weight", "fc.bias"], missing
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    times = []
    with torch.no_grad():
        for r in range(a.repeats + 1):
            t0 = time.perf_counter()
            out = model.features(pixels)
            if r > 0:  # the first run is warmup
                times.append((time.perf_counter() - t0) * 1000)
    rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    write_safetensors(os.path.join(a.bench, "out.safetensors"), {"out": out})
    times.sort()
    print(json.dumps({"forward_ms": times[len(times) // 2], "rss_rise_mb": (rss1 - rss0) / 1024, "torch": torch.__version__}))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out-dir")
    ap.add_argument("--bench", help="time the forward on DIR's weights and pixels (see the docstring)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--width-divisor", type=int, default=16)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    if a.bench:
        return bench(a)
    if not a.out_dir:
        ap.error("--out-dir or --bench is required")
    os.makedirs(a.out_dir, exist_ok=True)
    gen = torch.Generator().manual_seed(a.seed)
    model = FIDInception(a.width_divisor, classes=8).eval()
    randomise(model, gen)

    base = os.path.join(a.out_dir, "fid_inception_tiny")
    state = OrderedDict((k, v.detach().clone()) for k, v in model.state_dict().items())
    torch.save(state, base + ".pth", _use_new_zipfile_serialization=False)
    torch.save(state, base + ".pt")
    write_safetensors(base + ".safetensors", state)

    # 8-bit RGB images of two sizes (one below 299, one above), as image files decode.
    rng = np.random.default_rng(a.seed)
    small = torch.from_numpy(rng.integers(0, 256, (2, 61, 83, 3), dtype=np.uint8))
    large = torch.from_numpy(rng.integers(0, 256, (1, 320, 310, 3), dtype=np.uint8))
    model64 = model.double()
    io = OrderedDict()
    with torch.no_grad():
        for tag, img in (("small", small), ("large", large)):
            x = img.permute(0, 3, 1, 2).double() / 255
            resized = model64.resize(x)
            io["in.images_" + tag] = img
            io["out.features_" + tag] = model64.features(resized)
    write_safetensors(base + ".io.safetensors", io)
    with open(base + ".json", "w") as f:
        json.dump({"inception_config": {"width_divisor": a.width_divisor}, "seed": a.seed}, f, indent=2)
        f.write("\n")
    print("features", {k: tuple(v.shape) for k, v in io.items()}, "norm", io["out.features_small"].norm().item())


if __name__ == "__main__":
    main()
