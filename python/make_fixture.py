#!/usr/bin/python3
"""Write the C engine's test fixtures (deterministic: the same files on every run).

    /usr/bin/python3 python/make_fixture.py [--out tests/fixtures]

tiny.safetensors / tiny_golden.json
    A small super-network with random weights, random BN statistics and non-identity kernel
    transform matrices: 3 stages (relu / hswish+SE / relu6+SE, strides 2 / 1 / 2, the middle
    stage starts with a stride-1 block without shortcut), per-stage depth choices, kernel sizes
    3,5,7, expand ratios 3,4,6, resolutions 16 and 20, 7 classes.
tiny_w.safetensors / tiny_w_golden.json
    The same family with width multipliers 0.5 and 1.0 (file widths chosen so that
    make_divisible rounding matters at 0.5) and expand ratios 2,3,4 (keeps the file small).

Golden file (JSON):
    "model": fixture file name; "cases": list of
        {"config": canonical string, "id": "0x%016x" FNV-1a of it, "id_dec": same in decimal,
         "r": resolution, "input_shape": [1, r, r, 3],
         "input": float32 values of the NHWC input (already normalised, at resolution r),
         "logits": float64 reference logits (eval mode, the file's BN statistics,
                   computed in float64 from the float32 weights and input),
         "macs": multiply-accumulates}
    "parse_cases": [{"input": any valid string, "canonical": its canonical form, "id": ...}]
    "bad_configs": strings the parser must reject.
Inputs: x = sin(0.37*i + 0.11*case) * 2 for the flat NHWC index i, rounded to float32
(also stored, so the C side needs no generator).
"""
import argparse
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dynrt_ref.arch import Arch  # noqa: E402
from dynrt_ref.config import SubnetConfig  # noqa: E402
from dynrt_ref.model import DynBN, DynamicMBV3, count_macs  # noqa: E402
from dynrt_ref.safetensors_io import export_dynrt, load_dynrt  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def tiny_arch(name, widths, width_mults, expand_ratios=(3, 4, 6)):
    return Arch({
        "version": 1, "family": "ofa-mbv3", "name": name, "num_classes": 7,
        "class_names": ["c%d" % i for i in range(7)],
        "input": {"resolutions": [16, 20], "resize_ratio": 1.0,
                  "mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25]},
        "bn_eps": 1e-5, "channel_divisor": 8, "se_reduction": 4,
        "stem": {"out": widths[0], "kernel": 3, "stride": 2, "act": "hswish"},
        "first_block": {"out": widths[1], "kernel": 3, "stride": 1, "act": "relu"},
        "stages": [
            {"width": widths[2], "depths": [1, 2], "stride": 2, "act": "relu", "se": False},
            {"width": widths[3], "depths": [2, 3], "stride": 1, "act": "hswish", "se": True},
            {"width": widths[4], "depths": [1, 2], "stride": 2, "act": "relu6", "se": True},
        ],
        "kernel_sizes": [3, 5, 7], "expand_ratios": list(expand_ratios), "width_mults": width_mults,
        "kernel_transform": True,
        "head": {"final_expand": widths[5], "feature_mix": widths[6], "act": "hswish"},
    })


def randomise(model, seed):
    """Random weights that keep activations of order one through the network."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("_matrix"):
                n = p.shape[0]
                p.copy_(torch.eye(n) + 0.08 * torch.randn(n, n, generator=g))
            elif p.dim() == 4:
                fan_in = p.shape[1] * p.shape[2] * p.shape[3]
                p.copy_(torch.randn(p.shape, generator=g) * (1.5 / fan_in) ** 0.5)
            elif p.dim() == 2:
                p.copy_(torch.randn(p.shape, generator=g) * (1.0 / p.shape[1]) ** 0.5)
            else:
                p.copy_(0.2 * torch.randn(p.shape, generator=g))
        for m in model.modules():
            if isinstance(m, DynBN):
                c = m.weight.shape[0]
                m.weight.copy_(0.6 + 0.8 * torch.rand(c, generator=g))
                m.bias.copy_(0.2 * torch.randn(c, generator=g))
                m.running_mean.copy_(0.3 * torch.randn(c, generator=g))
                m.running_var.copy_(0.4 + 1.6 * torch.rand(c, generator=g))


def make_input(r, case):
    i = np.arange(r * r * 3, dtype=np.float64)
    return (np.sin(0.37 * i + 0.11 * case) * 2.0).astype(np.float32).reshape(1, r, r, 3)


def uniform(arch, r, w, d, k, e):
    nb = arch.n_blocks
    return SubnetConfig(r, w, d, [k] * nb if isinstance(k, int) else k, [e] * nb if isinstance(e, int) else e)


def cases_for(arch, wide):
    import random
    rng = random.Random(7)
    L, S = SubnetConfig.largest(arch), SubnetConfig.smallest(arch)
    dmax = [max(s["depths"]) for s in arch.stages]
    dmin = [min(s["depths"]) for s in arch.stages]
    out = [L, S]
    if not wide:
        out += [uniform(arch, 20, 1.0, dmax, 3, 6), uniform(arch, 20, 1.0, dmax, 5, 4),
                uniform(arch, 16, 1.0, dmax, 7, 3), uniform(arch, 20, 1.0, dmin, 7, 6),
                uniform(arch, 16, 1.0, [2, 2, 1], 5, 6), uniform(arch, 20, 1.0, [1, 3, 2], 3, 4)]
        out += [SubnetConfig.sample(arch, rng) for _ in range(4)]
    else:
        out += [uniform(arch, 20, 0.5, dmax, 7, 4), uniform(arch, 16, 1.0, dmin, 3, 2),
                uniform(arch, 20, 1.0, dmin, 5, 3), uniform(arch, 16, 0.5, dmax, 5, 3)]
        out += [SubnetConfig.sample(arch, rng) for _ in range(6)]
    return out


def parse_cases(arch):
    L = SubnetConfig.largest(arch)
    nb = arch.n_blocks
    s = L.to_string(arch)
    f = dict(tok.split("=", 1) for tok in s.split())
    # inactive blocks with small choices, fields reordered, extra spaces: same network
    d = [min(st["depths"]) for st in arch.stages]
    ks = ",".join(["3"] * nb)
    es = ",".join(["3"] * nb)
    variants = [
        "e=%s k=%s d=%s w=%s r=%s" % (f["e"], f["k"], f["d"], f["w"], f["r"]),
        "r=%d  w=1 d=%s k=%s e=%s" % (min(arch.resolutions), ",".join(map(str, d)), ks, es),
        "r=%d w=1.00 d=%s k=%s e=%s" % (max(arch.resolutions), ",".join(map(str, d)), ks, es),
    ]
    out = []
    for v in variants:
        c = SubnetConfig.parse(v, arch)
        out.append({"input": v, "canonical": c.to_string(arch), "id": "0x%016x" % c.id(arch),
                    "id_dec": str(c.id(arch))})
    bad = [
        s.replace("r=%d" % L.r, "r=17"),                       # resolution not offered
        " ".join(t for t in s.split() if not t.startswith("e=")),  # missing field
        s + " k=" + f["k"],                                    # duplicate field
        s.replace("k=" + f["k"], "k=" + ",".join(["7"] * (nb - 1))),  # too few entries
        s.replace("d=" + f["d"], "d=9,9,9"),                  # depth not offered
        s.replace("w=1.0", "w=0.3"),                           # width not offered
        s + " x=1",                                            # unknown field
        s.replace("e=" + f["e"], "e=" + f["e"].replace(",", "x,", 1)),  # not a number
        s.replace("k=" + f["k"], "k=" + f["k"].replace("7", "4", 1)),    # kernel not offered
    ]
    for b in bad:
        try:
            SubnetConfig.parse(b, arch)
        except ValueError:
            continue
        raise AssertionError("bad config accepted: %r" % b)
    return out, bad


def build(out_dir, name, arch, seed, wide):
    torch.manual_seed(seed)
    model = DynamicMBV3(arch)
    randomise(model, seed)
    path = os.path.join(out_dir, name + ".safetensors")
    export_dynrt(model, path)
    # reference logits from the file as written (float64 arithmetic on the float32 values)
    ref = load_dynrt(path, dtype=torch.float64).eval()
    cases = []
    for ci, c in enumerate(cases_for(arch, wide)):
        c = c.canonical(arch)
        x = make_input(c.r, ci)
        ref.set_active_subnet(c)
        with torch.no_grad():
            logits = ref(torch.from_numpy(x.astype(np.float64)).permute(0, 3, 1, 2))[0].tolist()
        cases.append({"config": c.to_string(arch), "id": "0x%016x" % c.id(arch), "id_dec": str(c.id(arch)),
                      "r": c.r, "input_shape": [1, c.r, c.r, 3],
                      "input": [float("%.9g" % v) for v in x.ravel().tolist()],
                      "logits": [float("%.17g" % v) for v in logits], "macs": count_macs(arch, c)})
    pcs, bad = parse_cases(arch)
    golden = {"model": name + ".safetensors", "layout": "input NHWC float32, logits float64",
              "cases": cases, "parse_cases": pcs, "bad_configs": bad}
    gpath = os.path.join(out_dir, name + "_golden.json")
    with open(gpath + ".tmp", "w") as f:
        json.dump(golden, f, indent=None, separators=(",", ":"))
        f.write("\n")
    os.replace(gpath + ".tmp", gpath)
    print("make_fixture: %s (%d bytes), %s (%d cases)" % (path, os.path.getsize(path), gpath, len(cases)))


def main():
    p = argparse.ArgumentParser(description="Write dynrt engine test fixtures")
    p.add_argument("--out", default=os.path.join(REPO, "tests", "fixtures"))
    args = p.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.set_num_threads(1)
    build(args.out, "tiny", tiny_arch("dynrt-tiny", (8, 8, 8, 16, 16, 32, 40), [1.0]), 11, False)
    build(args.out, "tiny_w", tiny_arch("dynrt-tiny-w", (16, 16, 16, 24, 32, 40, 56), [0.5, 1.0], (2, 3, 4)), 12, True)


if __name__ == "__main__":
    main()
