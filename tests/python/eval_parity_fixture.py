#!/usr/bin/python3
"""Writes tests/fixtures/offline/tiny_calib.json: BN statistics of two sub-networks of the tiny
engine fixture recalibrated by the PyTorch reference (DynamicMBV3.calibrate_bn) on the first
40 images of dynrt_dataset_synthetic(n, 32, 7, seed 1) in batches of 20 - the expectation
tests/test_calib.c checks the C calibration against. Rerun after changing the fixture:
    /usr/bin/python3 tests/python/eval_parity_fixture.py
"""
import json
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(REPO, "python"))
sys.path.insert(0, HERE)
from dynrt_ref.config import SubnetConfig  # noqa: E402
from dynrt_ref.safetensors_io import load_dynrt  # noqa: E402
from eval_parity import bn_modules, prep  # noqa: E402


def c_synthetic(n, side, seed):
    """Exactly dynrt_dataset_synthetic (src/offline/dataset.c), uint32 arithmetic."""
    u = np.uint32
    q = np.arange(side * side * 3, dtype=np.uint32)
    out = np.empty((n, side * side * 3), dtype=np.uint8)
    with np.errstate(over="ignore"):
        for i in range(n):
            h = u((seed * 0x9e3779b9) & 0xffffffff) + u((i * 1103515245) & 0xffffffff) + \
                (q // u(3)) * u(12345) + (q % u(3)) * u(2654435761)
            h ^= h >> u(13)
            h *= u(0x5bd1e995)
            ramp = ((q // u(3)) % u(side) * u(3) + (q // u(3)) // u(side) * u(5) + (q % u(3)) * u(40) +
                    u(i * 7)) % u(256)
            out[i] = ((h >> u(24)) // u(2) + ramp // u(2)).astype(np.uint8)
    return out.reshape(n, side, side, 3)


def main():
    model = load_dynrt(os.path.join(REPO, "tests", "fixtures", "tiny.safetensors"))
    x = c_synthetic(40, 32, 1)
    res = {"images": 40, "batch": 20, "dataset": "dynrt_dataset_synthetic(40, 32, 7, 1)",
           "subnets": []}
    for cfg in (SubnetConfig.smallest(model.arch), SubnetConfig.largest(model.arch),
                SubnetConfig.parse("r=20 w=1.0 d=1,3,2 k=5,3,7,5,3,7,3 e=4,3,6,4,6,3,4", model.arch)):
        model.set_active_subnet(cfg)
        with torch.no_grad():
            model.calibrate_bn(prep(model, x[i:i + 20], cfg.r) for i in range(0, 40, 20))
        mean = torch.cat([m.running_mean[:c] for m, c in bn_modules(model, cfg)])
        var = torch.cat([m.running_var[:c] for m, c in bn_modules(model, cfg)])
        res["subnets"].append({"config": cfg.to_string(model.arch),
                               "mean": [float("%.8g" % v) for v in mean],
                               "var": [float("%.8g" % v) for v in var]})
    path = os.path.join(REPO, "tests", "fixtures", "offline", "tiny_calib.json")
    with open(path, "w") as f:
        json.dump(res, f)
    print("wrote %s" % path)


if __name__ == "__main__":
    main()
