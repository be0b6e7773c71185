#!/usr/bin/python3
"""Convert a Once-for-All ofa_mbv3_d234_e346_k357_w1.2 ImageNet checkpoint to a dynrt file.

    /usr/bin/python3 python/convert_ofa.py ofa_mbv3_d234_e346_k357_w1.2.pth \
        models/ofa_mbv3_d234_e346_k357_w1.2.safetensors [--class-names names.txt]

Accepts a plain state dict or a checkpoint dict holding one under "state_dict", with or
without a "module." prefix, and every naming OFA has used for the same tensors:
".mobile_inverted_conv." or ".conv." for the block body, ".bn.bn." or ".bn.",
".conv.conv.weight" or ".conv.weight", "classifier.linear.linear." or "classifier.linear.".
num_batches_tracked entries are ignored. Shapes are checked against the architecture of
formats.md §1.1 (resolutions 160..224 step 4, resize_ratio 0.875).
"""
import argparse
import os
import sys
from collections import OrderedDict

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dynrt_ref.arch import imagenet_arch  # noqa: E402
from dynrt_ref.names import dynrt_tensor_specs  # noqa: E402
from dynrt_ref.safetensors_io import save_safetensors  # noqa: E402

_BN = ("weight", "bias", "running_mean", "running_var")


def normalise_key(k):
    """One spelling per tensor: OFA's static-layer names ('.bn.', '.conv.weight',
    'classifier.linear.')."""
    if k.startswith("module."):
        k = k[len("module."):]
    k = k.replace(".mobile_inverted_conv.", ".conv.")
    k = k.replace(".bn.bn.", ".bn.")
    k = k.replace(".conv.conv.weight", ".conv.weight")
    k = k.replace("classifier.linear.linear.", "classifier.linear.")
    return k


def key_map(arch):
    """normalised OFA key -> dynrt tensor name."""
    m = OrderedDict()
    m["first_conv.conv.weight"] = "stem.conv.weight"
    for s in _BN:
        m["first_conv.bn." + s] = "stem.bn." + s
    m["blocks.0.conv.depth_conv.conv.weight"] = "first.dw.weight"
    m["blocks.0.conv.point_linear.conv.weight"] = "first.proj.weight"
    for s in _BN:
        m["blocks.0.conv.depth_conv.bn." + s] = "first.dw_bn." + s
        m["blocks.0.conv.point_linear.bn." + s] = "first.proj_bn." + s
    for b in arch.blocks():
        o = "blocks.%d.conv." % (b.j + 1)  # OFA's blocks[0] is the first block
        d = "blocks.%d." % b.j
        m[o + "inverted_bottleneck.conv.weight"] = d + "expand.weight"
        m[o + "depth_conv.conv.weight"] = d + "dw.weight"
        for a, t in arch.kernel_steps():
            m[o + "depth_conv.conv.%dto%d_matrix" % (a, t)] = d + "dw.%dto%d_matrix" % (a, t)
        if b.se:
            for p in ("weight", "bias"):
                m[o + "depth_conv.se.fc.reduce." + p] = d + "se.reduce." + p
                m[o + "depth_conv.se.fc.expand." + p] = d + "se.expand." + p
        m[o + "point_linear.conv.weight"] = d + "proj.weight"
        for s in _BN:
            m[o + "inverted_bottleneck.bn." + s] = d + "expand_bn." + s
            m[o + "depth_conv.bn." + s] = d + "dw_bn." + s
            m[o + "point_linear.bn." + s] = d + "proj_bn." + s
    m["final_expand_layer.conv.weight"] = "head.expand.weight"
    for s in _BN:
        m["final_expand_layer.bn." + s] = "head.expand_bn." + s
    m["feature_mix_layer.conv.weight"] = "head.mix.weight"
    m["classifier.linear.weight"] = "head.classifier.weight"
    m["classifier.linear.bias"] = "head.classifier.bias"
    return m


def convert_state_dict(sd, arch):
    """OFA state dict -> OrderedDict of dynrt tensors (float32), in the spec's order."""
    if "state_dict" in sd and isinstance(sd["state_dict"], dict):
        sd = sd["state_dict"]
    kmap = key_map(arch)
    specs = dynrt_tensor_specs(arch)
    out = {}
    unknown = []
    for k, v in sd.items():
        if k.endswith("num_batches_tracked"):
            continue
        nk = normalise_key(k)
        if nk not in kmap:
            unknown.append(k)
            continue
        name = kmap[nk]
        if name in out:
            raise ValueError("convert_ofa: two checkpoint keys map to %s (second: %s)" % (name, k))
        if list(v.shape) != list(specs[name]):
            raise ValueError("convert_ofa: %s has shape %s, %s needs %s" % (k, list(v.shape), name, specs[name]))
        out[name] = v.detach().to(torch.float32).cpu()
    if unknown:
        raise ValueError("convert_ofa: unexpected checkpoint keys: %s" % ", ".join(unknown[:10]))
    missing = [n for n in specs if n not in out]
    if missing:
        raise ValueError("convert_ofa: checkpoint lacks %s" % ", ".join(missing[:10]))
    return OrderedDict((n, out[n]) for n in specs)


def main():
    p = argparse.ArgumentParser(description="Convert an OFA MobileNetV3 w1.2 checkpoint to dynrt")
    p.add_argument("checkpoint")
    p.add_argument("output")
    p.add_argument("--class-names", help="text file with the 1000 class names, one per line")
    args = p.parse_args()
    names = None
    if args.class_names:
        with open(args.class_names) as f:
            names = [line.strip() for line in f if line.strip()]
        if len(names) != 1000:
            raise SystemExit("convert_ofa: %s has %d names, expected 1000" % (args.class_names, len(names)))
    arch = imagenet_arch(names)
    sd = torch.load(args.checkpoint, map_location="cpu")
    tensors = convert_state_dict(sd, arch)
    save_safetensors(args.output, tensors, {"dynrt.format": "1", "dynrt.arch": arch.to_json()})
    print("convert_ofa: wrote %s (%d tensors)" % (args.output, len(tensors)))


if __name__ == "__main__":
    main()
