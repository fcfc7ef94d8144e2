# Python PyTorch baseline for bench/dispatch.ts: the same op chain and MLP train step, same sizes,
# on the same libtorch. A server, so that the two sides can take turns in short blocks: it prints one
# JSON line when ready ({"torch_version", "threads"}), then for each line "chain K" or "step K" on
# stdin runs K iterations and prints {"s_per_iter": ...}; it exits at end of input.
import json, sys, time
import torch

cfg = json.loads(sys.argv[1])
torch.set_num_threads(cfg["threads"])
torch.manual_seed(0)

n = cfg["chain_size"]
a, b, c, d = (torch.randn(n, n) for _ in range(4))
def chain():
    return a.add(b).mul(c).relu().sub(d).tanh()

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

for _ in range(1000): chain()
for _ in range(200): step()
print(json.dumps({"torch_version": torch.__version__, "threads": torch.get_num_threads()}), flush=True)

fns = {"chain": chain, "step": step}
for line in sys.stdin:
    what, k = line.split()
    fn, k = fns[what], int(k)
    t0 = time.perf_counter()
    for _ in range(k):
        fn()
    print(json.dumps({"s_per_iter": (time.perf_counter() - t0) / k}), flush=True)
