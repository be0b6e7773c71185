#!/usr/bin/python3
"""Model parity: the C engine against the PyTorch reference (python/dynrt_ref) on

1. the shipped CIFAR-10 super-network (models/cifar10-ofa-cpu.safetensors), and
2. an ImageNet-shaped super-network with random weights, BN statistics and kernel-transform
   matrices (the shapes of ofa_mbv3_d234_e346_k357_w1.2, dynrt_ref.arch.imagenet_arch),

each with its largest, its smallest and --random (default 20) random sub-networks, on real
CIFAR-10 test images: tests/fixtures/cifar10-test-100.bin, the first 100 images of the test
split (--cifar-images of them, default all 100; the ImageNet-shaped model takes the first
--imagenet-images, default 8). Both sides get the same images through the same
preprocessing (python/dynrt_ref/verify.py engine_input, the engine's: a bilinear resize to
the sub-network's resolution, for the ImageNet shape a resize to r / 0.875 and a centred
crop; the model's mean/std) and use the BN statistics of the model file. The C side is
`dynrt eval --logits`.

Pass, per sub-network: max |C - ref| / max |ref| over all its logits <= 1e-4, and the same
top-1 class on every image (an image whose two best reference logits lie within 1e-4 x
max |ref| of each other may differ: rounding may break that tie either way).

usage: model_parity.py DYNRT_BINARY [--random N] [--cifar-images N] [--imagenet-images N]
Exit 77 (ctest SKIP) when torch is missing; 1 on any failure.
"""
import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(REPO, "python"))
SKIP = 77

try:
    import torch
except ImportError as e:  # pragma: no cover
    print("SKIP: %s" % e)
    sys.exit(SKIP)

from dynrt_ref.arch import imagenet_arch  # noqa: E402
from dynrt_ref.model import DynamicMBV3, randomize_  # noqa: E402
from dynrt_ref.safetensors_io import export_dynrt, load_dynrt  # noqa: E402
from dynrt_ref.verify import (TOL, VerifyError, compare, engine_logits, read_cifar,  # noqa: E402
                              subnets)

IMAGES = os.path.join(REPO, "tests", "fixtures", "cifar10-test-100.bin")
SHIPPED = os.path.join(REPO, "models", "cifar10-ofa-cpu.safetensors")


def check(name, dynrt, model_path, model, cfgs, n_images, tmp):
    """Compares every sub-network; returns the number of failures."""
    x, _ = read_cifar(IMAGES, 0, n_images)
    try:
        yc = engine_logits(dynrt, model_path, cfgs, model.arch, IMAGES, n_images, tmp)
    except VerifyError as e:
        print("FAILED: %s" % e)
        return len(cfgs)
    failures, worst = 0, 0.0
    for i, (cs, err, differ, ties) in enumerate(compare(model, cfgs, x, yc)):
        ok = err <= TOL and not differ
        worst = max(worst, err)
        failures += not ok
        print("%s %2d %-4s max rel err %.1e, top-1 differs on %d of %d images (near-ties %d): %s" % (
            name, i, "ok" if ok else "FAIL", err, differ, n_images, ties, cs))
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
    n_cifar = int(args[args.index("--cifar-images") + 1]) if "--cifar-images" in args else 100
    for path in (IMAGES, SHIPPED):
        if not os.path.exists(path):
            sys.exit("FAILED: %s is missing" % path)
    torch.set_num_threads(2)
    failures = 0
    with tempfile.TemporaryDirectory(prefix="dynrt-model-parity-") as tmp:
        model = load_dynrt(SHIPPED).eval()
        failures += check("cifar10-ofa-cpu", dynrt, SHIPPED, model,
                          subnets(model.arch, n_random, 1), n_cifar, tmp)
        path = os.path.join(tmp, "imagenet-random.safetensors")
        torch.manual_seed(3)
        export_dynrt(randomize_(DynamicMBV3(imagenet_arch()).eval()), path)
        model = load_dynrt(path).eval()
        failures += check("imagenet-random", dynrt, path, model,
                          subnets(model.arch, n_random, 2), n_in, tmp)
    print("PASS" if not failures else "FAIL")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
