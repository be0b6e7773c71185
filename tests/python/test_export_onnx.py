#!/usr/bin/python3
"""python/export_onnx.py: the static (BN-folded) sub-network equals the dynamic reference, the
ONNX file is valid opset-13 ONNX, and - when the peer programs and ONNX Runtime are available
(DYNRT_PEER_DYNRT, DYNRT_PEER_ORT, DYNRT_ORT_LIB) - ONNX Runtime's logits on the exported file
match dynrt's C engine within a relative 1e-4 (max |ort - dynrt| / max |dynrt|).

With DYNRT_REQUIRE_ORT=1 the script runs only the ONNX Runtime parity case and exits 77
(skipped) when ONNX Runtime or the peer programs are missing."""
import json
import os
import random
import subprocess
import sys
import tempfile
import unittest

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(REPO, "python"))
from dynrt_ref.config import SubnetConfig  # noqa: E402
from dynrt_ref.safetensors_io import load_dynrt  # noqa: E402
from export_onnx import export_onnx, static_subnet, write_layers  # noqa: E402

FIX = os.path.join(REPO, "tests", "fixtures")
MODELS = [os.path.join(FIX, "tiny.safetensors"), os.path.join(FIX, "tiny_w.safetensors")]


def configs(arch, n_random=3, seed=0):
    rng = random.Random(seed)
    return [SubnetConfig.largest(arch), SubnetConfig.smallest(arch)] + \
        [SubnetConfig.sample(arch, rng) for _ in range(n_random)]


def rel_err(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.abs(a - b).max() / np.abs(b).max())


class StaticTest(unittest.TestCase):
    def test_static_equals_dynamic(self):
        for path in MODELS:
            m = load_dynrt(path).eval()
            for cfg in configs(m.arch):
                m.set_active_subnet(cfg)
                net = static_subnet(m, cfg)
                x = torch.randn(2, 3, cfg.r, cfg.r)
                with torch.no_grad():
                    self.assertLess(rel_err(net(x), m(x)), 1e-5, cfg.to_string(m.arch))

    def test_onnx_valid(self):
        import onnx
        m = load_dynrt(MODELS[0]).eval()
        cfg = SubnetConfig.largest(m.arch)
        with tempfile.TemporaryDirectory() as d:
            p = os.path.join(d, "n.onnx")
            export_onnx(static_subnet(m, cfg), p)
            o = onnx.load(p)
            onnx.checker.check_model(o)
            self.assertEqual(o.opset_import[0].version, 13)
            dims = [x.dim_value for x in o.graph.input[0].type.tensor_type.shape.dim]
            self.assertEqual(dims, [1, 3, cfg.r, cfg.r])
            # no dynamic-network leftovers: every weight is a constant
            self.assertFalse({"Slice", "Gather", "MatMulInteger"} & {n.op_type for n in o.graph.node})

    def test_layers_header(self):
        m = load_dynrt(MODELS[1]).eval()
        cfg = SubnetConfig.smallest(m.arch)
        with tempfile.TemporaryDirectory() as d:
            p = os.path.join(d, "n.layers")
            write_layers(static_subnet(m, cfg), p)
            raw = open(p, "rb").read()
            head = raw.split(b"\n", 1)[0].split()
            self.assertEqual(head[:4], [b"dynrt-layers", b"1", str(cfg.r).encode(), b"7"])
            end = raw.index(b"\nend\n") + 5
            self.assertEqual(len(raw) - end, 4 * int(head[5]))


def ort_tools():
    t = [os.environ.get(k) for k in ("DYNRT_PEER_DYNRT", "DYNRT_PEER_ORT", "DYNRT_ORT_LIB")]
    return t if all(x and os.path.exists(x) for x in t) else None


class OrtParityTest(unittest.TestCase):
    @unittest.skipIf(ort_tools() is None, "peer programs or libonnxruntime.so.1 not available")
    def test_ort_matches_dynrt(self):
        peer_dynrt, peer_ort, lib = ort_tools()
        with tempfile.TemporaryDirectory() as d:
            for path in MODELS:
                m = load_dynrt(path).eval()
                for i, cfg in enumerate(configs(m.arch, n_random=2, seed=1)):
                    s = cfg.to_string(m.arch)
                    onnx_path = os.path.join(d, "n.onnx")
                    export_onnx(static_subnet(m, cfg), onnx_path)
                    x = np.random.RandomState(i).uniform(-2, 2, (1, 3, cfg.r, cfg.r)).astype("<f4")
                    x.tofile(os.path.join(d, "nchw.f32"))
                    x.transpose(0, 2, 3, 1).copy().tofile(os.path.join(d, "nhwc.f32"))
                    common = ["--runs", "1", "--warmup", "0"]
                    subprocess.run([peer_dynrt, path, "--subnet", s, "--input", os.path.join(d, "nhwc.f32"),
                                    "--out", os.path.join(d, "d.f32")] + common, check=True,
                                   capture_output=True)
                    subprocess.run([peer_ort, onnx_path, "--lib", lib, "--input", os.path.join(d, "nchw.f32"),
                                    "--out", os.path.join(d, "o.f32")] + common, check=True,
                                   capture_output=True)
                    yd = np.fromfile(os.path.join(d, "d.f32"), "<f4")
                    yo = np.fromfile(os.path.join(d, "o.f32"), "<f4")
                    self.assertEqual(yd.shape, yo.shape, s)
                    self.assertLessEqual(rel_err(yo, yd), 1e-4, s)


def layer_peers():
    """The layer-list peer programs built in DYNRT_PEER_BIN_DIR: {name: path}."""
    d = os.environ.get("DYNRT_PEER_BIN_DIR", "")
    t = {n: os.path.join(d, "peer_" + n) for n in ("xnnpack", "onednn")}
    return {n: p for n, p in t.items() if d and os.path.exists(p)}


class LayerPeerParityTest(unittest.TestCase):
    """XNNPACK / oneDNN on the layer list (bench/peers) against dynrt within 1e-4; oneDNN's
    per-layer profile lines up with dynrt's, layer for layer (same MACs)."""

    @unittest.skipIf(not layer_peers() or not os.path.exists(os.environ.get("DYNRT_PEER_DYNRT", "")),
                     "peer programs not available")
    def test_layer_peers_match_dynrt(self):
        peer_dynrt, peers = os.environ["DYNRT_PEER_DYNRT"], layer_peers()
        with tempfile.TemporaryDirectory() as d:
            for path in MODELS:
                m = load_dynrt(path).eval()
                for i, cfg in enumerate(configs(m.arch, n_random=2, seed=2)):
                    s = cfg.to_string(m.arch)
                    layers = os.path.join(d, "n.layers")
                    write_layers(static_subnet(m, cfg), layers)
                    x = np.random.RandomState(i).uniform(-2, 2, (1, cfg.r, cfg.r, 3)).astype("<f4")
                    x.tofile(os.path.join(d, "nhwc.f32"))
                    common = ["--runs", "2", "--warmup", "0", "--per-layer", "--input", os.path.join(d, "nhwc.f32")]
                    out = subprocess.run([peer_dynrt, path, "--subnet", s, "--out", os.path.join(d, "d.f32")] + common,
                                         check=True, capture_output=True, text=True).stdout
                    dl = [json.loads(l) for l in out.splitlines() if '"layers"' in l][0]["layers"]
                    yd = np.fromfile(os.path.join(d, "d.f32"), "<f4")
                    for name, exe in peers.items():
                        args = [exe, layers, "--out", os.path.join(d, "p.f32")] + common
                        if name != "onednn":
                            args.remove("--per-layer")
                        out = subprocess.run(args, check=True, capture_output=True, text=True).stdout
                        yp = np.fromfile(os.path.join(d, "p.f32"), "<f4")
                        self.assertEqual(yd.shape, yp.shape, (name, s))
                        self.assertLessEqual(rel_err(yp, yd), 1e-4, (name, s))
                        if name == "onednn":
                            pl = [json.loads(l) for l in out.splitlines() if '"layers"' in l][0]["layers"]
                            self.assertEqual([l["macs"] for l in dl if l["kind"] != "input"],
                                             [l["macs"] for l in pl], s)
                            self.assertEqual([l["kind"] for l in dl if l["kind"] != "input"],
                                             [l["kind"] for l in pl], s)


if __name__ == "__main__":
    if os.environ.get("DYNRT_REQUIRE_ORT") == "1":
        if ort_tools() is None:
            print("ONNX Runtime parity: skipped (peer programs or libonnxruntime.so.1 missing)")
            sys.exit(77)
        sys.argv[1:] = ["OrtParityTest"]
    if os.environ.get("DYNRT_REQUIRE_LAYER_PEERS") == "1":
        if not layer_peers() or not os.path.exists(os.environ.get("DYNRT_PEER_DYNRT", "")):
            print("layer-list peer parity: skipped (peer_xnnpack / peer_onednn not built)")
            sys.exit(77)
        sys.argv[1:] = ["LayerPeerParityTest"]
    unittest.main()
