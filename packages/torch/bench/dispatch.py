# Python PyTorch baseline for bench/dispatch.ts: the same op chain and MLP train step, same sizes,
# on the same libtorch. Prints one JSON line: {"op_chain_us_per_op": x, "train_step_us": y, ...}.
import json, sys, time
import torch

cfg = json.loads(sys.argv[1])
torch.set_num_threads(cfg["threads"])
torch.manual_seed(0)

def median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2]

def time_per(fn, iters, repeats):
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(iters):
            fn()
        out.append((time.perf_counter() - t0) / iters)
    return median(out)

n = cfg["chain_size"]
a, b, c, d = (torch.randn(n, n) for _ in range(4))
def chain():
    return a.add(b).mul(c).relu().sub(d).tanh()
for _ in range(1000): chain()
chain_s = time_per(chain, cfg["chain_iters"], cfg["repeats"])

i, h, o, bs = cfg["mlp"]
model = torch.nn.Sequential(torch.nn.Linear(i, h), torch.nn.Tanh(), torch.nn.Linear(h, o))
opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
x = torch.randn(bs, i)
y = torch.randn(bs, o)
def step():
    opt.zero_grad(set_to_none=True)
    loss = torch.nn.functional.mse_loss(model(x), y)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
for _ in range(200): step()
step_s = time_per(step, cfg["step_iters"], cfg["repeats"])

print(json.dumps({"op_chain_us_per_op": chain_s * 1e6 / 5, "train_step_us": step_s * 1e6,
                  "torch_version": torch.__version__, "threads": torch.get_num_threads()}))
