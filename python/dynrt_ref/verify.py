"""A written dynrt model file checked with the C engine: `dynrt eval --logits` on a batch of
images against the PyTorch model, sub-network by sub-network. Also the pieces the parity
tests share: CIFAR-format image files and the engine's input pipeline in PyTorch.
"""
import math
import os
import random
import subprocess
import tempfile

import numpy as np
import torch
import torch.nn.functional as F

from .config import SubnetConfig

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
TOL = 1e-4  # max |C - ref| / max |ref| over a sub-network's logits


class VerifyError(Exception):
    """The check failed: the engine's logits disagree with the model's (EngineError: the
    engine could not be run on the file at all)."""


class EngineError(VerifyError):
    """The engine could not be run on the file (it failed, or wrote no logits)."""


def find_dynrt(path=None):
    """The dynrt binary: path, else $DYNRT_BIN, else build/dynrt of this checkout; None when
    none is executable."""
    for cand in (path, os.environ.get("DYNRT_BIN"), os.path.join(REPO, "build", "dynrt")):
        if cand and os.access(cand, os.X_OK):
            return cand
    return None


def synthetic(n, num_classes):
    """Deterministic 32x32 RGB images (uint32 hash of index, pixel, channel, blended with a
    smooth ramp) and labels: (NHWC uint8, uint8)."""
    i = np.arange(n, dtype=np.uint32)[:, None, None, None]
    y = np.arange(32, dtype=np.uint32)[None, :, None, None]
    x = np.arange(32, dtype=np.uint32)[None, None, :, None]
    c = np.arange(3, dtype=np.uint32)[None, None, None, :]
    with np.errstate(over="ignore"):
        h = i * np.uint32(1103515245) + (y * np.uint32(32) + x) * np.uint32(12345) + c * np.uint32(2654435761)
        h ^= h >> np.uint32(13)
        h *= np.uint32(0x5bd1e995)
        smooth = (y * np.uint32(5) + x * np.uint32(3) + c * np.uint32(40) + i * np.uint32(7)) % np.uint32(256)
    img = ((h >> np.uint32(24)) // np.uint32(2) + smooth // np.uint32(2)).astype(np.uint8)
    labels = (np.arange(n) * 3 + 1) % min(num_classes, 256)
    return img, labels.astype(np.uint8)


def write_cifar(path, img, labels):
    """NHWC uint8 32x32 images and labels as a classic CIFAR-10 binary file."""
    rec = np.concatenate([labels[:, None], img.transpose(0, 3, 1, 2).reshape(len(img), -1)], axis=1)
    rec.astype(np.uint8).tofile(path)


def read_cifar(path, first, count):
    """Records [first, first + count) of a CIFAR-10 binary file: (NHWC uint8, labels)."""
    raw = np.fromfile(path, dtype=np.uint8).reshape(-1, 3073)[first:first + count]
    return np.ascontiguousarray(raw[:, 1:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)), raw[:, 0]


def engine_input(model, x, r):
    """NHWC uint8 images -> the normalised NCHW input at resolution r, as the C engine's
    dynrt__preprocess_rgb does it: bilinear with half-pixel centres to r x r (resize_ratio
    1), or the shorter side to ceil(r / resize_ratio) and a centred r x r crop (ImageNet)."""
    inp = model.arch["input"]
    mean = torch.tensor(inp["mean"]).view(1, 3, 1, 1)
    std = torch.tensor(inp["std"]).view(1, 3, 1, 1)
    t = torch.from_numpy(x).permute(0, 3, 1, 2).float() / 255.0
    h, w = t.shape[-2:]
    ratio = inp.get("resize_ratio", 1.0)
    if ratio >= 1.0:
        rh = rw = r
    else:
        side = math.ceil(r / ratio - 1e-9)
        rh, rw = (math.floor(side * h / w), side) if w <= h else (side, math.floor(side * w / h))
    if (rh, rw) != (h, w):
        t = F.interpolate(t, size=(rh, rw), mode="bilinear", align_corners=False)
    top, left = round((rh - r) / 2), round((rw - r) / 2)
    t = t[:, :, top:top + r, left:left + r]
    return (t - mean) / std


def engine_logits(dynrt, model_path, cfgs, arch, images_path, n_images, tmp):
    """[sub-network][image][class] logits of the C engine (`dynrt eval --logits`) on the
    first n_images of a CIFAR-format file. Raises EngineError when the engine fails. The
    configurations must be distinct (the engine runs a repeated one once)."""
    lst = os.path.join(tmp, "subnets.txt")
    with open(lst, "w") as f:
        f.write("\n".join(c.to_string(arch) for c in cfgs) + "\n")
    out = os.path.join(tmp, "logits.f32")
    cmd = [dynrt, "eval", model_path, "--data", images_path, "--images", str(n_images),
           "--subnets", lst, "--threads", "2", "--logits", out]
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if p.returncode:
        raise EngineError("%s failed:\n%s%s" % (" ".join(cmd), p.stdout, p.stderr))
    nc = arch["num_classes"]
    y = np.fromfile(out, dtype="=f4")  # host byte order, as the engine writes it
    if y.size != len(cfgs) * n_images * nc:
        raise EngineError("%s holds %d floats, expected %d x %d x %d" % (
            out, y.size, len(cfgs), n_images, nc))
    return y.reshape(len(cfgs), n_images, nc)


def compare(model, cfgs, x, yc):
    """Per sub-network (config string, max rel err, images with another top-1, near-ties):
    the PyTorch model against the engine's logits yc on images x. An image whose two best
    reference logits lie within TOL x max |ref| may differ (rounding breaks the tie)."""
    rows = []
    for i, cfg in enumerate(cfgs):
        model.set_active_subnet(cfg)
        with torch.no_grad():
            ref = model(engine_input(model, x, cfg.r)).numpy()
        scale = float(np.max(np.abs(ref)))
        err = float(np.max(np.abs(yc[i] - ref))) / scale
        top2 = np.sort(ref, axis=1)[:, -2:]
        tie = (top2[:, 1] - top2[:, 0]) < TOL * scale
        differ = (yc[i].argmax(1) != ref.argmax(1)) & ~tie
        rows.append((cfg.to_string(model.arch), err, int(differ.sum()), int(tie.sum())))
    return rows


def subnets(arch, n_random, seed):
    """The largest, the smallest and n_random random sub-networks (seeded), each once: a
    small space (the width-only one has 4 sub-networks) gives fewer."""
    rng = random.Random(seed)
    cands = ([SubnetConfig.largest(arch), SubnetConfig.smallest(arch)]
             + [SubnetConfig.sample(arch, rng) for _ in range(n_random)])
    out, seen = [], set()
    for c in cands:
        key = c.to_string(arch)
        if key not in seen:
            seen.add(key)
            out.append(c)
    return out


def verify_file(model, path, dynrt, n_random=3, n_images=16, seed=0):
    """Loads `path` with the C engine and compares its logits with `model`'s (the PyTorch
    model the file was written from, eval mode) on the largest, the smallest and n_random
    random sub-networks, n_images synthetic images each. Returns compare()'s rows; raises
    EngineError when the engine cannot run the file, VerifyError when any sub-network is
    off (an error that is not finite counts as off)."""
    model = model.float().cpu().eval()
    cfgs = subnets(model.arch, n_random, seed)
    with tempfile.TemporaryDirectory(prefix="dynrt-verify-") as tmp:
        img, lab = synthetic(n_images, model.arch["num_classes"])
        images = os.path.join(tmp, "images.bin")
        write_cifar(images, img, lab)
        yc = engine_logits(dynrt, path, cfgs, model.arch, images, n_images, tmp)
    rows = compare(model, cfgs, img, yc)
    bad = [r for r in rows if not r[1] <= TOL or r[2]]
    if bad:
        raise VerifyError("%s: the C engine disagrees with the PyTorch model on %d of %d "
                          "sub-networks, e.g. '%s': max rel err %.1e, top-1 differs on %d images"
                          % (path, len(bad), len(rows), bad[0][0], bad[0][1], bad[0][2]))
    return rows
