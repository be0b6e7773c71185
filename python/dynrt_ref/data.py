"""CIFAR-10 data for training: readers for the classic binary files written by
scripts/get-cifar10 and for the compact pack written by python/pack_data.py."""
import os

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def data_dir():
    base = os.environ.get("DYNRT_DATA")
    if base:
        return base if base.rstrip("/").endswith("cifar10") else os.path.join(base, "cifar10")
    return os.path.join(REPO, "data", "cifar10")


def read_bin(path):
    """Classic CIFAR-10 binary -> (uint8 NHWC images, uint8 labels)."""
    raw = np.fromfile(path, dtype=np.uint8)
    if raw.size % 3073:
        raise ValueError("%s: size %d is not a multiple of 3073" % (path, raw.size))
    rec = raw.reshape(-1, 3073)
    x = rec[:, 1:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(x), rec[:, 0].copy()


def load_split(name, pack=None):
    """name in train/val/test. With `pack` (an .npz from pack_data.py) the arrays come from
    it; otherwise from the binary files in data_dir()."""
    if pack:
        from .pack import read_pack
        return read_pack(pack, name)
    path = os.path.join(data_dir(), name + ".bin")
    if not os.path.exists(path):
        raise FileNotFoundError("%s missing: run scripts/get-cifar10 (or pass --data-pack)" % path)
    return read_bin(path)
