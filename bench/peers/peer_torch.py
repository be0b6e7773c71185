#!/usr/bin/python3
"""PyTorch side of the peer benchmark (same command line and JSON line as peer_common.h).

    peer_torch.py NET.pt --input in_nchw.f32 [--threads T] [--runs N] [--warmup W] [--out F]

NET.pt is the static sub-network that python/export_onnx.py --torch writes (BN folded,
weights contiguous). Eval mode, torch.inference_mode, channels_last weights and input,
torch.set_num_threads(T). create_ms = torch.load + channels_last conversion (+ the JIT
passes with --jit). Debian's python3-torch is built with generic BLAS: in eager mode its 1x1
convolutions take aten::_slow_conv2d_forward; --jit (freeze + optimize_for_inference) moves
convolutions to oneDNN, which is what a PyTorch user chasing latency would do.
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


def rss_kb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return -1


def main():
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
    x = np.fromfile(a.input, dtype="<f4")
    t0 = time.perf_counter()
    net = torch.load(a.model).eval().to(memory_format=torch.channels_last)
    r = int(round((x.size / 3) ** 0.5))
    xt = torch.from_numpy(x).view(1, 3, r, r).contiguous(memory_format=torch.channels_last)
    if a.jit:
        with torch.no_grad():
            net = torch.jit.optimize_for_inference(torch.jit.freeze(torch.jit.trace(net, xt)))
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
                      "min_us": round(t[0], 1), "create_ms": round(create_ms, 3), "rss_kb": rss_kb()}))


if __name__ == "__main__":
    main()
