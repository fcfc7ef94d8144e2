# Python PyTorch baseline for bench/gpu.ts: the same bf16 matmul and SDPA, same sizes, same timing
# (warm-up, then the median of synchronised repeats of `inner` launches over rotating input sets).
# Prints one JSON line: {"matmul": {"ms": .., "tflops": .., "rel_err": ..}, "sdpa": {...}, ...}.
import json
import sys
import time

import torch
import torch.nn.functional as F

cfg = json.loads(sys.argv[1])
device = torch.device(cfg["device"])
on_cuda = device.type == "cuda"
dtype = getattr(torch, cfg["dtype"])
torch.set_num_threads(cfg["threads"])
gen = torch.Generator(device=device)
gen.manual_seed(0)


def sync():
    if on_cuda:
        torch.cuda.synchronize(device)


def median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2]


def rel_err(a, ref):
    return (a.double() - ref).norm().item() / max(ref.norm().item(), 1e-300)


def time_op(inner, op):
    def once():
        for i in range(inner):
            op(i % cfg["sets"])

    for _ in range(cfg["warmup"]):
        once()
    sync()
    out = []
    for _ in range(cfg["repeats"]):
        sync()
        t0 = time.perf_counter()
        once()
        sync()
        out.append((time.perf_counter() - t0) * 1e3 / inner)
    return {"ms": median(out), "min_ms": min(out), "max_ms": max(out)}


def randn(*shape):
    return torch.randn(*shape, dtype=dtype, device=device, generator=gen)


def sdpa_math(q, k, v):
    scale = 1.0 / (q.shape[-1] ** 0.5)
    return torch.softmax(q @ k.transpose(-2, -1) * scale, dim=-1) @ v


# torch < 2.0 has no fused attention: fall back to the math path (the CPU smoke test on old torch).
has_sdpa = hasattr(F, "scaled_dot_product_attention")
sdpa = F.scaled_dot_product_attention if has_sdpa else sdpa_math

with torch.no_grad():
    n = cfg["matmul"]["n"]
    mm = [(randn(n, n), randn(n, n)) for _ in range(cfg["sets"])]
    a, b = mm[0]
    mm_err = rel_err(a @ b, a.double() @ b.double())
    mm_t = time_op(cfg["matmul"]["inner"], lambda s: torch.matmul(*mm[s]))
    del mm, a, b

    s = cfg["sdpa"]
    qkv = [tuple(randn(s["b"], s["h"], s["l"], s["d"]) for _ in range(3)) for _ in range(cfg["sets"])]
    q, k, v = qkv[0]
    sdpa_err = rel_err(sdpa(q, k, v), sdpa_math(q.double(), k.double(), v.double()))
    sdpa_t = time_op(s["inner"], lambda i: sdpa(*qkv[i]))

mm_flops = 2 * n**3
sdpa_flops = 4 * s["b"] * s["h"] * s["l"] ** 2 * s["d"]
print(json.dumps({
    "torch_version": torch.__version__,
    "cuda": torch.version.cuda,
    "device_name": torch.cuda.get_device_name(device) if on_cuda else "cpu",
    "threads": torch.get_num_threads(),
    "matmul": {**mm_t, "tflops": mm_flops / (mm_t["ms"] * 1e-3) / 1e12, "rel_err": mm_err},
    "sdpa": {**sdpa_t, "tflops": sdpa_flops / (sdpa_t["ms"] * 1e-3) / 1e12, "rel_err": sdpa_err,
             "impl": "F.scaled_dot_product_attention" if has_sdpa else "math (torch<2.0)"},
}))
