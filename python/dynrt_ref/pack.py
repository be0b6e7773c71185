"""Compact CIFAR-10 pack (python/pack_data.py) for carrying the data to another machine.

One .npz (stored, not re-compressed) holding, per split, images as mosaics of 1000 images
(25 rows x 40 columns of 32x32 tiles): the training split as JPEG (quality given at packing,
4:4:4 chroma, so 8x8 blocks never straddle two images), validation and test splits as lossless
WebP, always bit-exact. Labels are raw uint8; sha256 of the lossless arrays are stored."""
import hashlib
import io

import numpy as np
from PIL import Image

TILE_ROWS, TILE_COLS = 25, 40
CHUNK = TILE_ROWS * TILE_COLS


def to_mosaic(x):
    n = x.shape[0]
    pad = np.zeros((CHUNK - n,) + x.shape[1:], dtype=np.uint8) if n < CHUNK else None
    if pad is not None:
        x = np.concatenate([x, pad])
    return x.reshape(TILE_ROWS, TILE_COLS, 32, 32, 3).transpose(0, 2, 1, 3, 4).reshape(
        TILE_ROWS * 32, TILE_COLS * 32, 3)


def from_mosaic(m, n):
    x = m.reshape(TILE_ROWS, 32, TILE_COLS, 32, 3).transpose(0, 2, 1, 3, 4).reshape(CHUNK, 32, 32, 3)
    return x[:n]


def encode(x, lossless, quality):
    blobs = []
    for i in range(0, x.shape[0], CHUNK):
        b = io.BytesIO()
        img = Image.fromarray(to_mosaic(x[i:i + CHUNK]))
        if lossless:
            img.save(b, "WEBP", lossless=True, quality=100, method=6)
        else:
            img.save(b, "JPEG", quality=quality, subsampling=0)
        blobs.append(np.frombuffer(b.getvalue(), dtype=np.uint8))
    return blobs


def decode(blobs, n):
    parts = []
    for i, blob in enumerate(blobs):
        m = np.asarray(Image.open(io.BytesIO(blob.tobytes())).convert("RGB"), dtype=np.uint8)
        parts.append(from_mosaic(m, min(CHUNK, n - i * CHUNK)))
    return np.ascontiguousarray(np.concatenate(parts))


def read_pack(path, split):
    """(uint8 NHWC images, uint8 labels) of one split; lossless splits are verified."""
    with np.load(path) as z:
        n = int(z[split + "_n"])
        blobs = [z["%s_%d" % (split, i)] for i in range(int(z[split + "_chunks"]))]
        y = z[split + "_labels"].copy()
        sha = str(z[split + "_sha256"]) if (split + "_sha256") in z.files else ""
    x = decode(blobs, n)
    if sha and hashlib.sha256(x.tobytes()).hexdigest() != sha:
        raise ValueError("%s: %s images do not match their sha256" % (path, split))
    return x, y
