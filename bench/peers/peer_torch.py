#!/usr/bin/python3
"""PyTorch side of the peer benchmark (same command line and JSON line as peer_common.h).

    peer_torch.py NET.pt --input in_nchw.f32 [--threads T] [--runs N] [--warmup W] [--out F]
    peer_torch.py A.pt,B.pt,... --input a.f32,b.f32,... [--jit]   (switching: every network
        loaded (and JIT-compiled) and run once, all kept resident; creation time of each and
        the resident set growth, as peer_ort / peer_xnnpack / peer_onednn print it)

NET.pt is the static sub-network that python/export_onnx.py --torch writes (BN folded,
weights contiguous). Eval mode, torch.inference_mode, channels_last weights and input,
torch.set_num_threads(T). create_ms = torch.load + channels_last conversion (+ the JIT
passes with --jit). Debian's python3-torch is built with generic BLAS: in eager mode its 1x1
convolutions take aten::_slow_conv2d_forward; --jit (freeze + optimize_for_inference) moves
convolutions to oneDNN, which is what a PyTorch user chasing latency would do.

With --jit every nn.Hardswish is first replaced by the same function written out,
x * relu6(x + 3) / 6: the in-place oneDNN h-swish that optimize_for_inference substitutes
(prim::MKLDNNHardSwish_) gives wrong values in Debian's torch 1.13 when the channel count is
not a multiple of 16 (max relative error 0.3-1.0 on a single 1x1 conv + h-swish with 120 or
136 output channels, 1e-7 with 112, 128 or 144; `python3 bench/peers/peer_torch.py
--check-hswish` reproduces it). The written-out form stays on oneDNN tensors and agrees; it
costs torch-jit about 5-15 % of its time on these networks.
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"))
import export_onnx  # noqa: E402,F401  (classes of the pickled module)


def status_kb(field="VmRSS:"):
    """A field of /proc/self/status in KiB (VmRSS: resident now, VmHWM: its peak)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field):
                return int(line.split()[1])
    return -1


def rss_kb():
    return status_kb("VmRSS:")


class HSwish(torch.nn.Module):
    """h-swish written out (see the module comment: the fused oneDNN one is wrong here)."""

    def forward(self, x):
        return x * torch.nn.functional.relu6(x + 3.0) * (1.0 / 6.0)


def written_out_hswish(m):
    for name, c in m.named_children():
        if isinstance(c, torch.nn.Hardswish):
            setattr(m, name, HSwish())
        else:
            written_out_hswish(c)


def check_hswish():
    """Max relative error of optimize_for_inference on 1x1 conv (40 -> C) + nn.Hardswish."""
    torch.manual_seed(0)
    for c in (112, 120, 128, 136, 144):
        m = torch.nn.Sequential(torch.nn.Conv2d(40, c, 1), torch.nn.Hardswish()).eval()
        x = torch.randn(1, 40, 8, 8)
        with torch.no_grad():
            ref = m(x)
            jit = torch.jit.optimize_for_inference(torch.jit.freeze(torch.jit.trace(m, x)))
            e = float((jit(x) - ref).abs().max() / ref.abs().max())
        print(f"torch {torch.__version__}: 1x1 conv 40->{c} + Hardswish, optimize_for_inference "
              f"max rel err {e:.1e}{'  WRONG' if e > 1e-4 else ''}")


def make(path, x, jit):
    """The network of `path` ready to run on input x (flat float32, NCHW [1,3,r,r])."""
    net = torch.load(path).eval().to(memory_format=torch.channels_last)
    r = int(round((x.size / 3) ** 0.5))
    xt = torch.from_numpy(x).view(1, 3, r, r).contiguous(memory_format=torch.channels_last)
    if jit:
        written_out_hswish(net)
        with torch.no_grad():
            net = torch.jit.optimize_for_inference(torch.jit.freeze(torch.jit.trace(net, xt)))
    return net, xt


def resident(a):
    """All comma-separated networks kept resident, each run once."""
    paths, inputs = a.model.split(","), a.input.split(",")
    if len(paths) != len(inputs):
        sys.exit("peer_torch: resident mode needs one --input per model")
    rss0, keep, create = rss_kb(), [], []
    for p, i in zip(paths, inputs):
        x = np.fromfile(i, dtype="<f4")
        t0 = time.perf_counter()
        net, xt = make(p, x, a.jit)
        create.append(round((time.perf_counter() - t0) * 1e3, 2))
        with torch.inference_mode():
            net(xt)
        keep.append((net, xt))
    print(json.dumps({"peer": "torch-jit" if a.jit else "torch", "mode": "resident", "create_ms": create,
                      "n": len(keep), "rss_kb_before": rss0, "rss_kb_after": rss_kb(),
                      "hwm_kb": status_kb("VmHWM:")}))


def main():
    if sys.argv[1:] == ["--check-hswish"]:
        return check_hswish()
    p = argparse.ArgumentParser()
    p.add_argument("model")
    p.add_argument("--input", required=True)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--runs", type=int, default=50)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--out")
    p.add_argument("--jit", action="store_true",
                   help="torch.jit.trace + freeze + optimize_for_inference (oneDNN convolutions)")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.set_num_interop_threads(1)
    if "," in a.model:
        return resident(a)
    x = np.fromfile(a.input, dtype="<f4")
    rss_base = rss_kb()
    t0 = time.perf_counter()
    net, xt = make(a.model, x, a.jit)
    create_ms = (time.perf_counter() - t0) * 1e3
    with torch.inference_mode():
        y = net(xt)
        if a.out:
            y.numpy().astype("<f4").tofile(a.out)
        for _ in range(a.warmup):
            net(xt)
        t = []
        for _ in range(a.runs):
            t0 = time.perf_counter()
            net(xt)
            t.append((time.perf_counter() - t0) * 1e6)
    t.sort()
    n = len(t)
    med = t[n // 2] if n % 2 else 0.5 * (t[n // 2 - 1] + t[n // 2])
    print(json.dumps({"peer": "torch-jit" if a.jit else "torch", "threads": a.threads, "runs": n, "median_us": round(med, 1),
                      "p10_us": round(t[n // 10], 1), "p90_us": round(t[min(n * 9 // 10, n - 1)], 1),
                      "min_us": round(t[0], 1), "create_ms": round(create_ms, 3), "rss_kb": rss_kb(),
                      "rss_kb_base": rss_base, "hwm_kb": status_kb("VmHWM:")}))


if __name__ == "__main__":
    main()
