#!/usr/bin/python3
"""Parity of the offline stage with the PyTorch reference (python/dynrt_ref):

1. BN recalibration: `dynrt calibrate` tables == DynamicMBV3.calibrate_bn on the same images
   in the same batches, folded into scale/shift (max relative error 1e-3).
2. Accuracy: `dynrt eval` top-1 count == the reference's count on the same images with the
   same statistics (difference at most the images whose top-2 logits are within 1e-4, and
   never more than 0.1% of the images).

Self-contained variant (default): the tiny engine fixture and 300 synthetic 32x32 images
written as a CIFAR-format file. Real variant (--model M --real): a CIFAR-10 model, 500
training images to calibrate and the first 1000 validation images (needs data/cifar10).

usage: eval_parity.py DYNRT_BINARY [--model MODEL|auto --real]
Exit 77 (ctest SKIP) when torch or the data is missing.
"""
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(REPO, "python"))
SKIP = 77

try:
    import numpy as np
    import torch
except ImportError as e:  # pragma: no cover
    print("SKIP: %s" % e)
    sys.exit(SKIP)

from dynrt_ref.config import SubnetConfig  # noqa: E402
from dynrt_ref.safetensors_io import load_dynrt, load_safetensors  # noqa: E402
from dynrt_ref.verify import engine_input as prep, read_cifar, synthetic, write_cifar  # noqa: E402


def bn_modules(model, cfg):
    """(module, active channels) in dynrt_bn_layout order."""
    a = model.arch
    aw = lambda c: a.active_width(c, cfg.w)  # noqa: E731
    st, fb, hd = a["stem"], a["first_block"], a["head"]
    out = [(model.stem.bn, aw(st["out"])), (model.first.dw_bn, aw(st["out"])),
           (model.first.proj_bn, aw(fb["out"]))]
    cin = aw(fb["out"])
    for j, cout, e, k in model.active_plan(cfg):
        mid = a.mid_channels(cin, e)
        blk = model.blocks[j]
        out += [(blk.expand_bn, mid), (blk.dw_bn, mid), (blk.proj_bn, cout)]
        cin = cout
    out.append((model.head.expand_bn, aw(hd["final_expand"])))
    return out


def run(cmd):
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if p.returncode:
        print("FAILED: %s\n%s%s" % (" ".join(cmd), p.stdout, p.stderr))
        sys.exit(1)
    return p.stdout


def main():
    args = sys.argv[1:]
    if not args:
        print(__doc__)
        return 2
    dynrt = args[0]
    real = "--real" in args
    model_path = os.path.join(REPO, "tests", "fixtures", "tiny.safetensors")
    if "--model" in args:
        model_path = args[args.index("--model") + 1]
    if model_path == "auto":
        # the newest CIFAR-10 super-network in models/ (not the width-only baseline)
        import glob
        cands = [p for p in glob.glob(os.path.join(REPO, "models", "cifar10-*.safetensors"))
                 if "width" not in os.path.basename(p) and not p.endswith(".bn.safetensors")]
        if not cands:
            print("SKIP: no models/cifar10-*.safetensors")
            return SKIP
        # the trained one first (a fresh clone gives every file the same age)
        trained = [p for p in cands if os.path.basename(p) == "cifar10-ofa-cpu.safetensors"]
        model_path = trained[0] if trained else max(cands, key=os.path.getmtime)
    torch.set_num_threads(2)
    model = load_dynrt(model_path)
    # the reference statistics in float64: float32 sums over 10^5-10^6 values per channel
    # carry rounding of ~1e-4 relative; the C side accumulates in double
    model64 = load_dynrt(model_path, dtype=torch.float64)
    nc = model.arch["num_classes"]
    tmp = tempfile.mkdtemp(prefix="dynrt-parity-")
    if real:
        data_dir = os.environ.get("DYNRT_DATA") or os.path.join(REPO, "data")
        if not data_dir.rstrip("/").endswith("cifar10"):
            data_dir = os.path.join(data_dir, "cifar10")
        train, val = os.path.join(data_dir, "train.bin"), os.path.join(data_dir, "val.bin")
        if not (os.path.exists(train) and os.path.exists(val)):
            print("SKIP: no CIFAR-10 data cache at %s" % data_dir)
            return SKIP
        n_cal, batch, n_eval = 500, 250, 1000
    else:
        train = val = os.path.join(tmp, "synthetic.bin")
        img, lab = synthetic(300, nc)
        write_cifar(train, img, lab)
        n_cal, batch, n_eval = 200, 50, 300
    big = SubnetConfig.largest(model.arch)
    rng = __import__("random").Random(5)
    cfgs = [SubnetConfig.smallest(model.arch), SubnetConfig.sample(model.arch, rng), big]
    names = [c.to_string(model.arch) for c in cfgs]
    bn_path = os.path.join(tmp, "t.bn.safetensors")
    run([dynrt, "calibrate", model_path, "--data", train, "--subnets", ";".join(names),
         "--images", str(n_cal), "--batch", str(batch), "-o", bn_path])
    tensors, meta = load_safetensors(bn_path)
    tables = {t["config"]: t["key"] for t in json.loads(meta["dynrt.tables"])}
    xc, _ = read_cifar(train, 0, n_cal)
    xv, yv = read_cifar(val, 0, n_eval)
    worst_rel, failures = 0.0, 0
    for cfg, name in zip(cfgs, names):
        model.set_active_subnet(cfg)
        model64.set_active_subnet(cfg)
        saved = {k: v.clone() for k, v in model.state_dict().items() if "running_" in k}
        saved64 = {k: v.clone() for k, v in model64.state_dict().items() if "running_" in k}
        with torch.no_grad():
            model64.calibrate_bn(prep(model64, xc[i:i + batch], cfg.r).double()
                                 for i in range(0, n_cal, batch))
        model.load_state_dict({k: v.float() for k, v in model64.state_dict().items()
                               if "running_" in k}, strict=False)
        model64.load_state_dict(saved64, strict=False)
        scale, shift = [], []
        for m, c in bn_modules(model, cfg):
            s = m.weight[:c] / torch.sqrt(m.running_var[:c] + m.eps)
            scale.append(s)
            shift.append(m.bias[:c] - m.running_mean[:c] * s)
        scale, shift = torch.cat(scale).detach().numpy(), torch.cat(shift).detach().numpy()
        key = tables[name]
        cs, ch = tensors[key + ".scale"], tensors[key + ".shift"]
        rel = max(np.max(np.abs(cs - scale) / (np.abs(scale) + 1e-3)),
                  np.max(np.abs(ch - shift) / (np.abs(shift) + 1e-3)))
        worst_rel = max(worst_rel, float(rel))
        ok_bn = rel < 1e-3
        # reference accuracy with the recalibrated statistics
        model.eval()
        with torch.no_grad():
            logits = torch.cat([model(prep(model, xv[i:i + 250], cfg.r)) for i in range(0, n_eval, 250)])
        top2 = torch.topk(logits, 2, dim=1)
        ties = int(((top2.values[:, 0] - top2.values[:, 1]) < 1e-4).sum())
        ref_top1 = int((logits.argmax(1).numpy() == yv).sum())
        model.load_state_dict(saved, strict=False)
        out = json.loads(run([dynrt, "eval", model_path, "--data", val, "--subnet", name, "--bn",
                              bn_path, "--images", str(n_eval), "--threads", "2", "--json"]))[0]
        diff = abs(out["top1"] - ref_top1)
        ok_acc = out["images"] == n_eval and (diff == 0 or (diff <= ties and diff <= 0.001 * n_eval))
        print("%s\n  BN max rel err %.2e %s; top-1 C %d / ref %d of %d (near-ties %d) %s" % (
            name, rel, "ok" if ok_bn else "FAIL", out["top1"], ref_top1, n_eval, ties,
            "ok" if ok_acc else "FAIL"))
        failures += (not ok_bn) + (not ok_acc)
    print("worst BN relative error %.2e; %s" % (worst_rel, "PASS" if not failures else "FAIL"))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
