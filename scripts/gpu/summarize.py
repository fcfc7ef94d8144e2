#!/usr/bin/env python3
"""Turns the stage states of scripts/gpu/run.sh into $OUT/results.json and $OUT/results.md.

Usage: summarize.py STATE_DIR OUT_DIR BUDGET_S ELAPSED_S DRY(0|1). Standard library only (the GPU
machine has python3 but not necessarily anything else).
"""
import json, os, re, sys
state, out, budget, elapsed, dry = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5] == "1"

def read(name, default=None):
    try:
        with open(os.path.join(state, name)) as f:
            return f.read()
    except OSError:
        return default

def read_json(name):
    text = (read(name) or "").strip().splitlines()
    for line in reversed(text):
        try:
            return json.loads(line)
        except ValueError:
            continue
    return None

stages = []
for line in (read("stages.tsv") or "").splitlines():
    name, status, rc, secs, log, note = (line.split("\t") + [""] * 6)[:6]
    stages.append({"name": name, "status": status, "rc": int(rc) if rc else None, "seconds": float(secs or 0), "log": log, "note": note})

gpu = None
csv = (read("gpu.csv") or "").strip().splitlines()
if len(csv) >= 2:
    gpu = [dict(zip(["name", "memory_total", "driver_version"], [c.strip() for c in row.split(",")])) for row in csv[1:]]

def tap(dev):
    text = read(f"tap.{dev}")
    if text is None:
        return None
    res = {}
    for key in ("tests", "suites", "pass", "fail", "cancelled", "skipped", "todo", "duration_ms"):
        m = re.findall(rf"^# {key} ([0-9.]+)$", text, re.M)
        if m:
            res[key] = float(m[-1]) if key == "duration_ms" else int(m[-1])
    res["failed_tests"] = re.findall(r"^\s*not ok \d+ - (.*)$", text, re.M)[:20]
    return res

build_log = ""
try:
    with open(os.path.join(out, "build.log")) as f:
        build_log = f.read()
except OSError:
    pass
m = re.findall(r"build-addon: built .* in ([0-9.]+) s", build_log)
results = {
    "schema": 1,
    "dry_run": dry,
    "budget_s": budget,
    "elapsed_s": elapsed,
    "prepared": None,
    "gpu": gpu,
    "python": read_json("python.json"),
    "addon": read_json("addon.json"),
    "build_s": float(m[-1]) if m else None,
    "stages": stages,
    "tests": {"cuda": tap("cuda"), "cpu": tap("cpu")},
    "bench": read_json("bench.json"),
    "microdit": read_json("microdit.json"),
}
try:
    with open(".gpu/MANIFEST.txt") as f:
        results["prepared"] = f.readline().strip()
except OSError:
    pass
with open(os.path.join(out, "results.json"), "w") as f:
    json.dump(results, f, indent=2)

L = []
g0 = (gpu or [{}])[0]
py = results["python"] or {}
ad = results["addon"] or {}
L.append(f"# GPU check{' (DRY RUN: no build, nothing on CUDA)' if dry else ''}")
L.append("")
L.append(f"- card: {g0.get('name', py.get('device', 'none'))}, {g0.get('memory_total', '?')}, driver {g0.get('driver_version', '?')}")
L.append(f"- python {py.get('python', '?')}, torch {py.get('torch', '?')} (CUDA {py.get('torch_cuda')}), cuda available: {py.get('cuda_available')}")
L.append(f"- addon: libtorch {ad.get('torchVersion', '?')}, cudaBuild {ad.get('cudaBuild')}, sees CUDA: {ad.get('cudaAvailable')} ({ad.get('cudaDevices')} device(s)); build {results['build_s']} s")
L.append(f"- prepared: {results['prepared']}")
L.append(f"- elapsed {elapsed} s of a {budget} s budget")
L.append("")
L.append("| stage | status | seconds | log | note |")
L.append("| --- | --- | ---: | --- | --- |")
for s in stages:
    L.append(f"| {s['name']} | {s['status']}{'' if s['rc'] in (None, 0) else ' (rc ' + str(s['rc']) + ')'} | {s['seconds']:.1f} | {s['log']} | {s['note']} |")
L.append("")
L.append("| tests | tests | pass | fail | skipped | cancelled | failed |")
L.append("| --- | ---: | ---: | ---: | ---: | ---: | --- |")
for dev in ("cuda", "cpu"):
    t = results["tests"][dev]
    if t is None:
        L.append(f"| {dev} | not run | | | | | |")
    else:
        L.append(f"| {dev} | {t.get('tests', '?')} | {t.get('pass', '?')} | {t.get('fail', '?')} | {t.get('skipped', '?')} | {t.get('cancelled', '?')} | {'; '.join(t['failed_tests'][:5])} |")
L.append("")
b = results["bench"]
if b:
    L.append(f"bench gpu on {b.get('device')} ({b.get('device_name')}), median of {b.get('repeats')}; libtorch {b.get('libtorch')}, python torch {b.get('python_torch')}")
    L.append("")
    L.append("| op | shape | dtype | ours ms | python ms | ours TFLOP/s | python TFLOP/s | ours/python | rel err ours / python |")
    L.append("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | --- |")
    tf = lambda x: f"{x:.0f}" if x >= 100 else f"{x:.3g}"
    for r in b.get("rows", []):
        o, p = r["ours"], r["python"]
        L.append(f"| {r['op']} | {r['shape']} | {r['dtype']} | {o['ms']:.4f} | {p['ms']:.4f} | {tf(o['tflops'])} | {tf(p['tflops'])} | {r['ratio']:.3f} | {o['rel_err']:.1e} / {p['rel_err']:.1e} |")
    again = b.get("ours_again_ms") or {}
    if again:
        L.append("")
        L.append("ours re-measured after Python (run-to-run spread): " + ", ".join(f"{k} {v:.4f} ms" for k, v in again.items()))
else:
    L.append("bench gpu: no result")
if results["microdit"] is not None:
    L.append("")
    L.append("microdit (raw JSON line):")
    L.append("")
    L.append("```json")
    L.append(json.dumps(results["microdit"]))
    L.append("```")
L.append("")
with open(os.path.join(out, "results.md"), "w") as f:
    f.write("\n".join(L))
