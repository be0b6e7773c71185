#!/usr/bin/python3
"""Model parity: the C engine against the PyTorch reference (python/dynrt_ref) on

1. the shipped CIFAR-10 super-network (models/cifar10-ofa-cpu.safetensors), and
2. an ImageNet-shaped super-network with random weights, BN statistics and kernel-transform
   matrices (the shapes of ofa_mbv3_d234_e346_k357_w1.2, dynrt_ref.arch.imagenet_arch),

each with its largest, its smallest and RANDOM (default 20) random sub-networks, on real
CIFAR-10 test images: tests/fixtures/cifar10-test-100.bin, the first 100 images of the test
split (the ImageNet-shaped model takes the first IMAGENET_IMAGES of them, default 8, resized
to its resolutions). Both sides get the same images through the same preprocessing (bilinear
resize to the sub-network's resolution, the model's mean/std) and use the BN statistics of
the model file. The C side is `dynrt eval --logits`.

Pass, per sub-network: max |C - ref| / max |ref| over all its logits <= 1e-4, and the same
top-1 class on every image (an image whose two best reference logits lie within 1e-4 x
max |ref| of each other may differ: rounding may break that tie either way).

usage: model_parity.py DYNRT_BINARY [--random N] [--imagenet-images N]
Exit 77 (ctest SKIP) when torch is missing; 1 on any failure.
"""
import os
import random
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(REPO, "python"))
sys.path.insert(0, HERE)
SKIP = 77
TOL = 1e-4

try:
    import numpy as np
    import torch
except ImportError as e:  # pragma: no cover
    print("SKIP: %s" % e)
    sys.exit(SKIP)

from dynrt_ref.arch import imagenet_arch  # noqa: E402
from dynrt_ref.config import SubnetConfig  # noqa: E402
from dynrt_ref.model import DynamicMBV3, randomize_  # noqa: E402
from dynrt_ref.safetensors_io import export_dynrt, load_dynrt  # noqa: E402
from eval_parity import prep, read_cifar  # noqa: E402

IMAGES = os.path.join(REPO, "tests", "fixtures", "cifar10-test-100.bin")
SHIPPED = os.path.join(REPO, "models", "cifar10-ofa-cpu.safetensors")


def configs(arch, n_random, seed):
    rng = random.Random(seed)
    out = [SubnetConfig.largest(arch), SubnetConfig.smallest(arch)]
    out += [SubnetConfig.sample(arch, rng) for _ in range(n_random)]
    return out


def c_logits(dynrt, model_path, cfgs, arch, n_images, tmp):
    """[sub-network][image][class] logits of the C engine (`dynrt eval --logits`)."""
    lst = os.path.join(tmp, "subnets.txt")
    with open(lst, "w") as f:
        f.write("\n".join(c.to_string(arch) for c in cfgs) + "\n")
    out = os.path.join(tmp, "logits.f32")
    cmd = [dynrt, "eval", model_path, "--data", IMAGES, "--images", str(n_images), "--subnets",
           lst, "--threads", "2", "--logits", out]
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if p.returncode:
        sys.exit("FAILED: %s\n%s%s" % (" ".join(cmd), p.stdout, p.stderr))
    nc = arch["num_classes"]
    y = np.fromfile(out, dtype="<f4")
    if y.size != len(cfgs) * n_images * nc:
        sys.exit("FAILED: %s holds %d floats, expected %d x %d x %d" % (out, y.size, len(cfgs),
                                                                        n_images, nc))
    return y.reshape(len(cfgs), n_images, nc)


def check(name, dynrt, model_path, model, cfgs, n_images, tmp):
    """Compares every sub-network; returns the number of failures."""
    arch = model.arch
    x, _ = read_cifar(IMAGES, 0, n_images)
    yc = c_logits(dynrt, model_path, cfgs, arch, n_images, tmp)
    failures, worst = 0, 0.0
    for i, cfg in enumerate(cfgs):
        model.set_active_subnet(cfg)
        with torch.no_grad():
            ref = model(prep(model, x, cfg.r)).numpy()
        scale = float(np.max(np.abs(ref)))
        err = float(np.max(np.abs(yc[i] - ref))) / scale
        top2 = np.sort(ref, axis=1)[:, -2:]
        tie = (top2[:, 1] - top2[:, 0]) < TOL * scale
        differ = (yc[i].argmax(1) != ref.argmax(1)) & ~tie
        ok = err <= TOL and not differ.any()
        worst = max(worst, err)
        failures += not ok
        print("%s %2d %-4s max rel err %.1e, top-1 differs on %d of %d images (near-ties %d): %s" % (
            name, i, "ok" if ok else "FAIL", err, int(differ.sum()), n_images, int(tie.sum()),
            cfg.to_string(arch)))
    print("%s: %d sub-networks, worst max rel err %.1e, %d failed" % (name, len(cfgs), worst, failures))
    return failures


def main():
    args = sys.argv[1:]
    if not args or args[0].startswith("-"):
        print(__doc__)
        return 2
    dynrt = args[0]
    n_random = int(args[args.index("--random") + 1]) if "--random" in args else 20
    n_in = int(args[args.index("--imagenet-images") + 1]) if "--imagenet-images" in args else 8
    for path in (IMAGES, SHIPPED):
        if not os.path.exists(path):
            sys.exit("FAILED: %s is missing" % path)
    torch.set_num_threads(2)
    failures = 0
    with tempfile.TemporaryDirectory(prefix="dynrt-model-parity-") as tmp:
        model = load_dynrt(SHIPPED).eval()
        failures += check("cifar10-ofa-cpu", dynrt, SHIPPED, model,
                          configs(model.arch, n_random, 1), 100, tmp)
        path = os.path.join(tmp, "imagenet-random.safetensors")
        torch.manual_seed(3)
        export_dynrt(randomize_(DynamicMBV3(imagenet_arch()).eval()), path)
        model = load_dynrt(path).eval()
        failures += check("imagenet-random", dynrt, path, model,
                          configs(model.arch, n_random, 2), n_in, tmp)
    print("PASS" if not failures else "FAIL")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
