#!/usr/bin/python3
"""Pack the CIFAR-10 splits of data/cifar10 into one compact file for carrying
(e.g. to a GPU machine):

    /usr/bin/python3 python/pack_data.py [--out data/cifar10-pack.npz] [--quality 95]
    scripts/train --preset full --data-pack data/cifar10-pack.npz

Training images are JPEG (default quality 95, 4:4:4), validation and test images lossless
WebP, so accuracy is always measured on the exact images. Prints the size and the training
images' error. See dynrt_ref/pack.py for the layout."""
import argparse
import hashlib
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dynrt_ref.data import REPO, load_split  # noqa: E402
from dynrt_ref.pack import decode, encode, read_pack  # noqa: E402

LIMIT = 64 << 20


def main():
    p = argparse.ArgumentParser(description="Pack CIFAR-10 compactly")
    p.add_argument("--out", default=os.path.join(REPO, "data", "cifar10-pack.npz"))
    p.add_argument("--quality", type=int, default=95, help="JPEG quality of the training images")
    args = p.parse_args()
    arrays = {}
    for split in ("train", "val", "test"):
        x, y = load_split(split)
        lossless = split != "train"
        blobs = encode(x, lossless, args.quality)
        for i, b in enumerate(blobs):
            arrays["%s_%d" % (split, i)] = b
        arrays[split + "_chunks"] = np.array(len(blobs))
        arrays[split + "_n"] = np.array(x.shape[0])
        arrays[split + "_labels"] = y
        if lossless:
            arrays[split + "_sha256"] = np.array(hashlib.sha256(x.tobytes()).hexdigest())
        else:
            d = decode(blobs, x.shape[0]).astype(np.float64) - x
            print("pack_data: %s JPEG q%d: RMSE %.2f, max abs error %d (of 255)" % (
                split, args.quality, np.sqrt((d ** 2).mean()), np.abs(d).max()))
        print("pack_data: %s: %d images, %.1f MiB" % (split, x.shape[0], sum(b.size for b in blobs) / 2 ** 20),
              flush=True)
    tmp = args.out + ".tmp.npz"
    np.savez(tmp, **arrays)
    os.replace(tmp, args.out)
    size = os.path.getsize(args.out)
    print("pack_data: wrote %s, %.1f MiB%s" % (args.out, size / 2 ** 20,
                                               "" if size <= LIMIT else " (over the 64 MiB budget)"))
    for split in ("val", "test"):  # read back: lossless splits are checked against their sha256
        read_pack(args.out, split)


if __name__ == "__main__":
    main()
