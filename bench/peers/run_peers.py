#!/usr/bin/python3
"""Peer benchmark driver: the same sub-networks, the same weights, in dynrt and in peer
runtimes (ONNX Runtime, PyTorch, XNNPACK, oneDNN), outputs checked before anything is timed.

    /usr/bin/python3 bench/peers/run_peers.py [--suite cifar,imagenet,shipped] [--threads 1,2]
        [--rounds 3] [--build build-peers] [--ort-lib PATH]
        [--peers dynrt,ort,torch,torch-jit,xnnpack,onednn] [--only LABEL]
    /usr/bin/python3 bench/peers/run_peers.py --switch ...      switching costs and memory
    /usr/bin/python3 bench/peers/run_peers.py --per-layer ...   per-layer times, dynrt vs oneDNN

Models are random-weight dynrt files made with python/dynrt_ref (random BN statistics and
kernel-transform matrices, so nothing folds away): `cifar` is the OFA-CIFAR shape of the `cpu`
preset of python/train.py, `imagenet` is ofa_mbv3_d234_e346_k357_w1.2 (formats.md §1.1).
`shipped` is the trained models/cifar10-ofa-cpu.safetensors with the one-thread Pareto
sub-networks of its host library (models/cifar10-ofa-cpu.oplib.json).
Each sub-network is exported once by python/export_onnx.py (ONNX for ORT, a pickled static
module for PyTorch, a layer list for the C peers). Every peer program prints one JSON line
(bench/peers/peer_common.h) and writes its logits; a peer whose logits differ from dynrt's by
more than 1e-4 (max |peer - dynrt| / max |dynrt|) is reported as disagreeing and not timed.

Timing: `rounds` rounds; in each round, for each thread count, every peer runs once (runs
after warm-up, median inside the process), in an order rotated each round, so dynrt and the
peers alternate on this shared machine. Reported: median over rounds of the per-round
medians, the spread (min..max of per-round medians) and dynrt / peer as the median of the
per-round ratios (ratios only within a round), and the best (minimum) single run over
all rounds with its ratio: on a machine shared with other tenants the minimum is the least
disturbed estimate of what each engine can do, the median what it does under that load. Everything generated goes under
bench/peers/.cache/ (git-ignored); results also go to bench/peers/.cache/results.json.
"""
import argparse
import glob
import hashlib
import json
import os
import random
import re
import statistics
import subprocess
import sys
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(REPO, "python"))
from dynrt_ref.arch import cifar_arch, imagenet_arch  # noqa: E402
from dynrt_ref.config import SubnetConfig  # noqa: E402
from dynrt_ref.model import DynamicMBV3, count_macs, randomize_  # noqa: E402
from dynrt_ref.safetensors_io import export_dynrt, load_dynrt  # noqa: E402
from export_onnx import export_onnx, static_subnet, write_layers  # noqa: E402

CACHE = os.path.join(HERE, ".cache")
DEFAULT_ORT = os.path.join(CACHE, "package", "bin", "napi-v6", "linux", "x64", "libonnxruntime.so.1")
TOL = 1e-4


def random_model(arch, path, seed):
    """A dynrt file with random weights, BN statistics and transform matrices."""
    if os.path.exists(path):
        return
    torch.manual_seed(seed)
    m = randomize_(DynamicMBV3(arch).eval())
    os.makedirs(os.path.dirname(path), exist_ok=True)
    export_dynrt(m, path)


def suites(names):
    """[(suite, model path, [(label, SubnetConfig)])]."""
    out = []
    if "cifar" in names:
        arch = cifar_arch("dynrt-cifar10-ofa-cpu", strides=(1, 2, 2, 2, 1, 2), depths=(2, 3))
        path = os.path.join(CACHE, "models", "cifar-cpu-random.safetensors")
        random_model(arch, path, 1)
        nb = arch.n_blocks
        mid = SubnetConfig(28, 1.0, [3, 2, 3, 2, 3], [5, 3] * (nb // 2) + [5] * (nb % 2),
                           [4, 6, 3] * (nb // 3) + [4] * (nb % 3))
        k5 = SubnetConfig(32, 1.0, [3] * 5, [5] * nb, [6] * nb)
        out.append(("cifar", path, [("smallest", SubnetConfig.smallest(arch)), ("mid k3/5", mid),
                                    ("largest k5", k5), ("largest k7", SubnetConfig.largest(arch))]))
    if "shipped" in names:
        # the trained model with its trained weights and the Pareto sub-networks of its host
        # library at one thread (models/cifar10-ofa-cpu.oplib.json)
        path = os.path.join(REPO, "models", "cifar10-ofa-cpu.safetensors")
        lib_path = os.path.join(REPO, "models", "cifar10-ofa-cpu.oplib.json")
        if not (os.path.exists(path) and os.path.exists(lib_path)):
            sys.exit("run_peers: suite 'shipped' needs %s and %s" % (path, lib_path))
        arch = load_dynrt(path).arch
        with open(lib_path) as f:
            lib = json.load(f)
        front = [p for p in lib["pareto"] if p["setting"] == 0][0]["subnets"]
        nets = []
        for sid in front:
            sn = lib["subnets"][sid]
            cfg = SubnetConfig.parse(sn["config"], arch)
            nets.append(("%.1f MMAC %.1f%%" % (sn["macs"] / 1e6, 100 * sn["test"]["top1"]), cfg))
        nets.sort(key=lambda n: count_macs(arch, n[1]))
        out.append(("shipped", path, nets))
    if "imagenet" in names:
        arch = imagenet_arch()
        path = os.path.join(CACHE, "models", "imagenet-random.safetensors")
        random_model(arch, path, 2)
        nb = arch.n_blocks
        rng = random.Random(5)
        mid = SubnetConfig.sample(arch, rng, elastic=("d", "k", "e"))
        mid.r = 192
        mid.k = [min(k, 5) for k in mid.k]
        out.append(("imagenet", path, [
            ("r160 smallest", SubnetConfig.smallest(arch)),
            ("r192 random k3/5", mid),
            ("r224 d4 e6 k5", SubnetConfig(224, 1.0, [4] * 5, [5] * nb, [6] * nb)),
            ("r224 largest k7", SubnetConfig.largest(arch))]))
    return out


_FINGERPRINTS = {}


def fingerprint(path):
    """First 12 hex digits of the SHA-256 of a model file: the export cache is keyed by the
    weights as well as the sub-network (a retrained model keeps its sub-network ids)."""
    if path not in _FINGERPRINTS:
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        _FINGERPRINTS[path] = h.hexdigest()[:12]
    return _FINGERPRINTS[path]


def export_all(model_path, cfg, tag):
    d = os.path.join(CACHE, "nets", "%s-%s" % (tag, fingerprint(model_path)))
    os.makedirs(d, exist_ok=True)
    files = {k: os.path.join(d, v) for k, v in (("onnx", "net.onnx"), ("layers", "net.layers"),
                                               ("torch", "net.pt"), ("nhwc", "in_nhwc.f32"),
                                               ("nchw", "in_nchw.f32"))}
    if all(os.path.exists(f) for f in files.values()):
        return files
    model = load_dynrt(model_path).eval()
    net = static_subnet(model, cfg)
    export_onnx(net, files["onnx"])
    write_layers(net, files["layers"])
    torch.save(net, files["torch"])
    x = np.random.RandomState(7).uniform(-2, 2, (1, 3, cfg.r, cfg.r)).astype("<f4")
    x.tofile(files["nchw"])
    x.transpose(0, 2, 3, 1).copy().tofile(files["nhwc"])
    return files


def peer_cmd(peer, args, model_path, cfgs, files):
    b = os.path.join(args.build, "bench")
    if peer == "dynrt":
        return [os.path.join(b, "peer_dynrt"), model_path, "--subnet", cfgs, "--input", files["nhwc"]]
    if peer == "ort":
        return [os.path.join(b, "peer_ort"), files["onnx"], "--lib", args.ort_lib, "--input", files["nchw"]]
    if peer in ("torch", "torch-jit"):
        return ["/usr/bin/python3", os.path.join(HERE, "peer_torch.py"), files["torch"], "--input",
                files["nchw"]] + (["--jit"] if peer == "torch-jit" else [])
    if peer in ("xnnpack", "onednn"):
        return [os.path.join(b, "peer_" + peer), files["layers"], "--input", files["nhwc"]]
    raise ValueError(peer)


def run(cmd, threads, runs, warmup, out=None, timeout=900, all_lines=False):
    """Runs a peer program; its last JSON line (all of them with all_lines)."""
    cmd = cmd + ["--threads", str(threads), "--runs", str(runs), "--warmup", str(warmup)]
    if out:
        cmd += ["--out", out]
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env,
                       cwd=REPO)
    if p.returncode != 0:
        raise RuntimeError(" ".join(cmd) + ": " + (p.stderr.strip() or p.stdout.strip())[-400:])
    lines = [json.loads(l) for l in p.stdout.strip().splitlines() if l.startswith("{")]
    return lines if all_lines else lines[-1]


SWITCH_PEERS = ("ort", "xnnpack", "onednn", "torch", "torch-jit")


def resident_cmd(peer, args, files):
    """The peer's resident mode: every sub-network of `files` in one process."""
    b = os.path.join(args.build, "bench")
    if peer == "ort":
        return [os.path.join(b, "peer_ort"), ",".join(f["onnx"] for f in files), "--lib", args.ort_lib,
                "--input", ",".join(f["nchw"] for f in files)]
    if peer in ("xnnpack", "onednn"):
        return [os.path.join(b, "peer_" + peer), ",".join(f["layers"] for f in files), "--input",
                files[0]["nhwc"]]
    return ["/usr/bin/python3", os.path.join(HERE, "peer_torch.py"), ",".join(f["torch"] for f in files),
            "--input", ",".join(f["nchw"] for f in files)] + (["--jit"] if peer == "torch-jit" else [])


def mib(kb):
    return kb / 1024.0


def switch_costs(args, avail):
    """What going from one sub-network to another costs in each runtime, in time and memory.
    dynrt: `dynrt bench-switch` (pointer switch in one session) and the resident set one session
    adds to the process (model + packed weights + arena, all sub-networks). Each peer, with no
    switch of its own: (a) one at a time - one process per sub-network: creation time (= the
    time of a switch by re-creation) and what the network adds to the process's resident set
    (rss_kb - rss_kb_base, measured after one run); (b) all resident - every sub-network
    created and run once in one process: creation time of each, resident-set growth and peak
    (VmHWM). Results also go to bench/peers/.cache/switch.json."""
    out = []
    for suite, model_path, nets in suites(args.suite.split(",")):
        arch = load_dynrt(model_path).arch
        tags = ["%s-%016x" % (suite, cfg.id(arch)) for _, cfg in nets]
        files = [export_all(model_path, cfg, t) for (_, cfg), t in zip(nets, tags)]
        res = {"suite": suite, "nets": [label for label, _ in nets], "peers": {}}
        p = subprocess.run([os.path.join(args.build, "dynrt"), "bench-switch", model_path, "--configs",
                            str(len(nets)), "--batches", "5"], capture_output=True, text=True, cwd=REPO)
        print("\n### %s: %d sub-networks\n\n```\n$ dynrt bench-switch %s --configs %d --batches 5\n%s```"
              % (suite, len(nets), os.path.relpath(model_path, REPO), len(nets), p.stdout))
        one = [run(peer_cmd("dynrt", args, model_path, cfg.to_string(arch), f), 1, 1, 0)
               for (_, cfg), f in zip(nets, files)]
        res["peers"]["dynrt"] = {"one": one}
        print("dynrt: one session (all sub-networks): +%s MiB resident over the process, "
              "peak %s MiB; model load + pack + session %s ms"
              % ("/".join("%.1f" % mib(j["rss_kb"] - j["rss_kb_base"]) for j in one),
                 "/".join("%.1f" % mib(j["hwm_kb"]) for j in one),
                 "/".join("%.1f" % j["create_ms"] for j in one)))
        for peer in SWITCH_PEERS:
            if peer not in avail:
                continue
            try:
                one = [run(peer_cmd(peer, args, model_path, cfg.to_string(arch), f), 1, 1, 0)
                       for (_, cfg), f in zip(nets, files)]
                allr = [run(resident_cmd(peer, args, files), 1, 1, 0) for _ in range(2)]
            except (RuntimeError, subprocess.TimeoutExpired) as e:
                print("%s: error %s" % (peer, str(e)[-300:]))
                continue
            res["peers"][peer] = {"one": one, "resident": allr}
            print("%s one at a time: create ms %s; +MiB resident per network %s (process %s MiB, "
                  "peak %s MiB)" % (peer, ", ".join("%.1f" % j["create_ms"] for j in one),
                                   ", ".join("%.1f" % mib(j["rss_kb"] - j["rss_kb_base"]) for j in one),
                                   ", ".join("%.0f" % mib(j["rss_kb"]) for j in one),
                                   ", ".join("%.0f" % mib(j["hwm_kb"]) for j in one)))
            for j in allr:
                print("%s all %d resident: create ms %s; RSS %.1f -> %.1f MiB (+%.1f MiB), peak %.1f MiB"
                      % (peer, j["n"], ", ".join("%.1f" % c for c in j["create_ms"]),
                         mib(j["rss_kb_before"]), mib(j["rss_kb_after"]),
                         mib(j["rss_kb_after"] - j["rss_kb_before"]), mib(j["hwm_kb"])))
        out.append(res)
        sys.stdout.flush()
    with open(os.path.join(CACHE, "switch.json"), "w") as f:
        json.dump({"date": time.strftime("%Y-%m-%d %H:%M"), "args": vars(args), "results": out}, f, indent=1)


PER_LAYER_PEERS = ("dynrt", "onednn", "ort")


def ort_layer_key(name):
    """The static-network layer an ONNX Runtime node belongs to, from the module path that
    torch.onnx puts in node names (ORT keeps it in fused nodes' names); "+" for a residual Add
    (it belongs to the projection before it); None for nodes without a path (ORT's NCHWc
    ReorderInput / ReorderOutput: they belong to the layer that follows)."""
    m = re.match(r"/body/body\.(\d+)/layers/layers\.(\d+)/", name)
    if m:
        return "body.%s.%s" % m.groups()
    if re.match(r"/body/body\.\d+/Add", name):
        return "+"
    m = re.match(r"/body/body\.(\d+)/", name)
    if m:
        return "body.%s" % m.group(1)
    for k in ("mix", "classifier"):
        if name.startswith("/" + k):
            return k
    if name.startswith("/ReduceMean") or name.startswith("/GlobalAveragePool"):
        return "gap"
    return None


def ort_layers(prefix):
    """Per-layer medians from ONNX Runtime's profile trace(s) <prefix>_*.json (removed after
    reading): per node the median of its kernel_time over runs, nodes summed per layer."""
    paths = sorted(glob.glob(glob.escape(prefix) + "_*.json"))
    if not paths:
        raise RuntimeError("no ONNX Runtime profile at %s_*.json" % prefix)
    with open(paths[-1]) as f:
        ev = json.load(f)
    for p in paths:
        os.remove(p)
    durs, ops, order = {}, {}, []
    for e in ev:
        if e.get("cat") != "Node" or not e["name"].endswith("_kernel_time"):
            continue
        n = e["name"][:-len("_kernel_time")]
        if n not in durs:
            durs[n], ops[n] = [], e.get("args", {}).get("op_name", "?")
            order.append(n)
        durs[n].append(float(e["dur"]))
    groups, pending = [], []
    for n in order:
        k = ort_layer_key(n)
        if k is None:
            pending.append(n)
            continue
        if k == "+" and groups:
            groups[-1][1].append(n)
            continue
        if not groups or groups[-1][0] != k:
            groups.append((k, []))
        groups[-1][1].extend(pending + [n])
        pending = []
    if pending and groups:
        groups[-1][1].extend(pending)
    out = []
    for k, names in groups:
        kinds = []
        for n in names:
            if ops[n] not in kinds:
                kinds.append(ops[n])
        out.append({"name": k, "kind": "+".join(kinds), "macs": None, "impl": "",
                    "us": sum(statistics.median(durs[n]) for n in names)})
    return out


def per_layer(args, avail):
    """Per-layer times of dynrt (its session profile) and of the peers that can time their
    layers (oneDNN: a clock read after every primitive; ONNX Runtime: its session profiler),
    side by side: one row per layer of the static network in execution order (dynrt's extra
    first row, the input copy, apart). dynrt fuses the SE scale and the residual add into the
    projection; oneDNN's SE row holds its pooling, two inner products and the multiply, and
    the residual add is its projection's sum post-op; ORT's rows hold the nodes of the layer
    (its NCHWc reorders go to the layer that follows them). Results also go to
    bench/peers/.cache/per_layer.json."""
    peers = [p for p in PER_LAYER_PEERS if p in avail]
    threads = [int(t) for t in args.threads.split(",")]
    out = []
    for suite, model_path, nets in suites(args.suite.split(",")):
        arch = load_dynrt(model_path).arch
        for label, cfg in nets:
            if args.only and args.only not in label:
                continue
            cfgs = cfg.to_string(arch)
            files = export_all(model_path, cfg, "%s-%016x" % (suite, cfg.id(arch)))
            for t in threads:
                prof = {}
                for p in peers:
                    probe = run(peer_cmd(p, args, model_path, cfgs, files), t, 1, 0)
                    runs = int(min(200, max(5, args.budget_ms * 1e3 / max(probe["median_us"], 1.0))))
                    logits = os.path.join(os.path.dirname(files["onnx"]), "prof_%s.f32" % p)
                    lines = run(peer_cmd(p, args, model_path, cfgs, files) + ["--per-layer"], t, runs,
                                max(2, runs // 10), out=logits, all_lines=True)
                    if p == "ort":
                        pre = next(l for l in lines if "profile_prefix" in l)["profile_prefix"]
                        lay = {"layers": ort_layers(pre)}
                    else:
                        lay = next(l for l in lines if "layers" in l)
                    prof[p] = {"layers": lay, "timing": lines[-1]}
                out.append({"suite": suite, "label": label, "subnet": cfgs, "threads": t, "peers": prof})
                print_per_layer(suite, label, t, prof)
                sys.stdout.flush()
    with open(os.path.join(CACHE, "per_layer.json"), "w") as f:
        json.dump({"date": time.strftime("%Y-%m-%d %H:%M"), "args": vars(args), "results": out}, f, indent=1)


def print_per_layer(suite, label, threads, prof):
    d = prof["dynrt"]["layers"]["layers"]
    rows = [l for l in d if l["kind"] != "input"]
    others = [p for p in prof if p != "dynrt"]
    print("\n### %s / %s, %d thread%s: per layer, median us\n" % (suite, label, threads, "s" if threads > 1 else ""))
    print("| # | dynrt layer | kind | MMAC | dynrt us | dynrt GFLOP/s | " +
          " | ".join("%s layer | %s us | dynrt/%s" % (p, p, p) for p in others) + " |")
    print("|---|---|---|---|---|---|" + "---|---|---|" * len(others))
    tot = {p: 0.0 for p in prof}
    for i, l in enumerate(rows):
        cells = ["%d" % i, l["name"], l["kind"], "%.3f" % (l["macs"] / 1e6), "%.1f" % l["us"],
                 "%.1f" % (2e-3 * l["macs"] / l["us"]) if l["us"] > 0 else "-"]
        tot["dynrt"] += l["us"]
        for p in others:
            pl = prof[p]["layers"]["layers"]
            if i < len(pl):
                q = pl[i]
                tot[p] += q["us"]
                mark = "" if q["macs"] in (None, l["macs"]) else " (MAC mismatch)"
                what = q["name"] + (" [%s]" % q["kind"] if q["macs"] is None else "") + mark
                cells += [what, "%.1f" % q["us"], "%.2f" % (l["us"] / q["us"]) if q["us"] > 0 else "-"]
            else:
                cells += ["-", "-", "-"]
        print("| " + " | ".join(cells) + " |")
    inp = [l["us"] for l in d if l["kind"] == "input"]
    print("\nsum of layer medians (us): %s; dynrt input copy %.1f us; whole-run medians (us): %s"
          % (", ".join("%s %.0f" % (p, v) for p, v in tot.items()), sum(inp),
             ", ".join("%s %.0f" % (p, prof[p]["timing"]["median_us"]) for p in prof)))
    for p in others:
        n = len(prof[p]["layers"]["layers"])
        if n != len(rows):
            print("**%s has %d layers, dynrt %d: rows past the first difference do not line up**"
                  % (p, n, len(rows)))
    # by dynrt's kind of the row, for every runtime (rows line up layer for layer)
    by = {}
    for i, l in enumerate(rows):
        for p in prof:
            pl = [q for q in prof[p]["layers"]["layers"] if q["kind"] != "input"]
            if i < len(pl):
                by.setdefault(l["kind"], {}).setdefault(p, 0.0)
                by[l["kind"]][p] += pl[i]["us"]
    print("by kind (us): " + "; ".join("%s: %s" % (k, ", ".join("%s %.0f" % (p, u) for p, u in v.items()))
                                       for k, v in by.items()))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--suite", default="cifar,imagenet")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--build", default=os.path.join(REPO, "build-peers"))
    ap.add_argument("--ort-lib", default=DEFAULT_ORT)
    ap.add_argument("--peers", default="dynrt,ort,torch,torch-jit,xnnpack,onednn")
    ap.add_argument("--only", help="run only sub-networks whose label contains this")
    ap.add_argument("--budget-ms", type=float, default=400.0,
                    help="timed milliseconds per process (runs = budget / latency, 3..200)")
    ap.add_argument("--switch", action="store_true", help="switching costs instead of latency")
    ap.add_argument("--per-layer", action="store_true",
                    help="per-layer times of dynrt and oneDNN instead of latency")
    args = ap.parse_args()
    threads = [int(t) for t in args.threads.split(",")]
    peers = [p for p in args.peers.split(",")]
    avail = []
    for p in peers:
        if p in ("dynrt", "ort", "xnnpack", "onednn") and not os.path.exists(
                os.path.join(args.build, "bench", "peer_" + p)):
            print("run_peers: peer_%s not built, skipped" % p, file=sys.stderr)
            continue
        if p == "ort" and not os.path.exists(args.ort_lib):
            print("run_peers: %s missing (npm pack onnxruntime-node), ORT skipped" % args.ort_lib,
                  file=sys.stderr)
            continue
        avail.append(p)
    if args.switch:
        return switch_costs(args, avail)
    if args.per_layer:
        return per_layer(args, avail)
    results = []
    for suite, model_path, nets in suites(args.suite.split(",")):
        arch = load_dynrt(model_path).arch
        for label, cfg in nets:
            if args.only and args.only not in label:
                continue
            cfgs = cfg.to_string(arch)
            tag = "%s-%016x" % (suite, cfg.id(arch))
            files = export_all(model_path, cfg, tag)
            row = {"suite": suite, "label": label, "subnet": cfgs, "mmac": count_macs(arch, cfg) / 1e6,
                   "peers": {}}
            # 1. outputs first
            ref = None
            status = {}
            for p in avail:
                out = os.path.join(os.path.dirname(files["onnx"]), "logits_%s.f32" % p)
                try:
                    j = run(peer_cmd(p, args, model_path, cfgs, files), 1, 1, 0, out)
                except (RuntimeError, subprocess.TimeoutExpired) as e:
                    status[p] = {"status": "error", "msg": str(e)[-300:]}
                    continue
                y = np.fromfile(out, dtype="<f4").astype(np.float64)
                if p == "dynrt":
                    ref = y
                    status[p] = {"status": "ok", "rel_err": 0.0, "create_ms": j["create_ms"],
                                 "probe_us": j["median_us"]}
                    continue
                err = float(np.abs(y - ref).max() / np.abs(ref).max()) if y.shape == ref.shape else float("inf")
                status[p] = {"status": "ok" if err <= TOL else "disagrees", "rel_err": err,
                             "create_ms": j["create_ms"], "probe_us": j["median_us"]}
            row["peers"] = status
            timed = [p for p in avail if status.get(p, {}).get("status") == "ok"]
            # 2. interleaved timing
            for t in threads:
                per = {p: [] for p in timed}
                for rnd in range(args.rounds):
                    order = timed[rnd % len(timed):] + timed[:rnd % len(timed)]
                    for p in order:
                        probe = max(status[p]["probe_us"], 1.0)
                        runs = int(min(200, max(3, args.budget_ms * 1e3 / probe)))
                        try:
                            j = run(peer_cmd(p, args, model_path, cfgs, files), t, runs, max(2, runs // 10))
                            per[p].append(j)
                        except (RuntimeError, subprocess.TimeoutExpired) as e:
                            status[p]["timing_error"] = str(e)[-300:]
                for p in timed:
                    meds = [j["median_us"] for j in per[p]]
                    if not meds:
                        continue
                    d = status[p].setdefault("t%d" % t, {})
                    d["median_us"] = statistics.median(meds)
                    d["spread_us"] = [min(meds), max(meds)]
                    d["p10_p90_us"] = [statistics.median(j["p10_us"] for j in per[p]),
                                       statistics.median(j["p90_us"] for j in per[p])]
                    d["min_us"] = min(j["min_us"] for j in per[p])
                    d["rss_kb"] = per[p][0]["rss_kb"]
                    if p != "dynrt" and per.get("dynrt"):
                        ratios = [a["median_us"] / b["median_us"] for a, b in zip(per["dynrt"], per[p])]
                        d["dynrt_over_peer"] = statistics.median(ratios)
                        d["ratio_spread"] = [min(ratios), max(ratios)]
                        d["dynrt_over_peer_min"] = status["dynrt"]["t%d" % t]["min_us"] / d["min_us"]
            results.append(row)
            print_row(row, threads)
            sys.stdout.flush()
    with open(os.path.join(CACHE, "results.json"), "w") as f:
        json.dump({"date": time.strftime("%Y-%m-%d %H:%M"), "args": vars(args), "results": results}, f, indent=1)


def print_row(row, threads):
    print("\n### %s / %s (%.1f MMAC)\n`%s`\n" % (row["suite"], row["label"], row["mmac"], row["subnet"]))
    print("| peer | output rel err | " + " | ".join("%d thr median (spread) us | dynrt/peer | best us | dynrt/peer best" % t
                                                   for t in threads) + " | create ms |")
    print("|---|---|" + "---|---|---|---|" * len(threads) + "---|")
    for p, s in row["peers"].items():
        if s["status"] != "ok":
            print("| %s | **%s** %s | %s | |" % (p, s["status"], "%.1e" % s["rel_err"] if "rel_err" in s else
                                                 s.get("msg", ""), " | ".join(["not timed", "", "", ""] * len(threads))))
            continue
        cells = []
        for t in threads:
            d = s.get("t%d" % t)
            if not d:
                cells += ["-", "-", "-", "-"]
                continue
            cells.append("%.0f (%.0f-%.0f)" % (d["median_us"], d["spread_us"][0], d["spread_us"][1]))
            cells.append("%.2f (%.2f-%.2f)" % (d["dynrt_over_peer"], *d["ratio_spread"])
                         if "dynrt_over_peer" in d else "1")
            cells.append("%.0f" % d["min_us"])
            cells.append("%.2f" % d["dynrt_over_peer_min"] if "dynrt_over_peer_min" in d else "1")
        print("| %s | %.1e | %s | %.1f |" % (p, s["rel_err"], " | ".join(cells), s["create_ms"]))


if __name__ == "__main__":
    main()
