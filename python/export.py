#!/usr/bin/python3
"""Writes a dynrt model file (safetensors: the weights plus the `dynrt.arch` metadata,
docs/formats.md) from a trainer checkpoint or a dynrt file, and verifies it by loading it
with the C engine: `dynrt eval --logits` on 16 synthetic images for the largest, the
smallest and 3 random sub-networks, against the PyTorch model it was written from (max
|C - ref| / max |ref| <= 1e-4 and the same top-1 on every image).

    python/export.py SOURCE OUT.safetensors [--dynrt BIN] [--random N] [--no-verify]

SOURCE: a dynrt model file (re-exported, e.g. to check it) or a checkpoint of python/train.py
(checkpoints/<preset>/*.pt; the architecture is its preset's, the BN statistics those of the
checkpoint: `scripts/train --export-only` is the trainer's own export, which recalibrates
them). OUT is written only when verified. The binary: --dynrt, else
$DYNRT_BIN, else build/dynrt; without one the export fails unless --no-verify is given.
Exit 0 when written (and verified), 1 otherwise.
"""
import argparse
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import torch  # noqa: E402

from dynrt_ref.model import DynamicMBV3  # noqa: E402
from dynrt_ref.safetensors_io import export_dynrt, load_dynrt  # noqa: E402
from dynrt_ref.verify import TOL, VerifyError, find_dynrt, verify_file  # noqa: E402


def load_source(path):
    """The PyTorch model of a trainer checkpoint or a dynrt file."""
    if path.endswith(".safetensors"):
        return load_dynrt(path)
    ck = torch.load(path, map_location="cpu")
    if not isinstance(ck, dict) or "model" not in ck or "preset" not in ck:
        raise ValueError("%s: not a python/train.py checkpoint (no 'model' and 'preset')" % path)
    import train  # the presets live with the trainer
    model = DynamicMBV3(train.preset(ck["preset"])["arch"])
    model.load_state_dict(ck["model"])
    return model


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("source")
    ap.add_argument("out")
    ap.add_argument("--dynrt", help="the dynrt binary (default: $DYNRT_BIN, then build/dynrt)")
    ap.add_argument("--random", type=int, default=3, help="random sub-networks to verify")
    ap.add_argument("--no-verify", action="store_true", help="write without the engine check")
    a = ap.parse_args()
    if a.dynrt and not os.access(a.dynrt, os.X_OK):
        sys.exit("export: --dynrt %s: not an executable file" % a.dynrt)
    dynrt = find_dynrt(a.dynrt)
    if not a.no_verify and not dynrt:
        sys.exit("export: no dynrt binary to verify with (%s): build it (make build), pass "
                 "--dynrt BIN, or --no-verify" % (a.dynrt or "$DYNRT_BIN, build/dynrt"))
    # written beside OUT and moved there only once verified: a failed check leaves no file
    tmp = a.out + ".tmp"
    try:
        model = load_source(a.source).float().cpu().eval()
        export_dynrt(model, tmp)
        if not a.no_verify:
            rows = verify_file(model, tmp, dynrt, n_random=a.random)
        os.replace(tmp, a.out)
    except (OSError, ValueError, KeyError, RuntimeError, VerifyError) as e:
        if os.path.exists(tmp):
            os.remove(tmp)
        sys.exit("export: %s" % e)
    print("export: wrote %s" % a.out)
    if not a.source.endswith(".safetensors"):
        print("export: BN statistics as the checkpoint holds them (scripts/train --export-only "
              "recalibrates them for the largest sub-network first, as a finished run does)")
    if a.no_verify:
        print("export: not verified (--no-verify)")
    else:
        print("export: verified with %s: %d sub-networks, worst max rel err %.1e (<= %g), "
              "same top-1 on every image" % (dynrt, len(rows), max(r[1] for r in rows), TOL))
    return 0


if __name__ == "__main__":
    sys.exit(main())
