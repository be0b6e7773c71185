#!/usr/bin/python3
"""Export/load round trip of dynrt model files, tensor names and shapes per formats.md §1.2,
header layout, and that the checked-in engine fixtures are what python/make_fixture.py makes."""
import json
import os
import struct
import subprocess
import sys
import tempfile
import unittest

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.join(HERE, "..", "..")
sys.path.insert(0, os.path.join(REPO, "python"))
from dynrt_ref.arch import cifar_arch, imagenet_arch  # noqa: E402
from dynrt_ref.config import SubnetConfig  # noqa: E402
from dynrt_ref.model import DynamicMBV3, randomize_  # noqa: E402
from dynrt_ref.names import dynrt_tensor_specs  # noqa: E402
from dynrt_ref.safetensors_io import export_dynrt, load_dynrt, load_safetensors  # noqa: E402
from dynrt_ref.verify import EngineError, VerifyError, find_dynrt, verify_file  # noqa: E402


def read(path):
    with open(path, "rb") as f:
        return f.read()


class ExportTest(unittest.TestCase):
    def test_round_trip(self):
        arch = cifar_arch("t", widths=(16, 16, 16, 24, 32, 40, 48), depths=(1, 2), head=(64, 80),
                          width_mults=(0.5, 1.0))
        torch.manual_seed(0)
        m = DynamicMBV3(arch).eval()
        with torch.no_grad():  # non-trivial BN statistics and transform matrices
            for name, t in m.state_dict().items():
                if "running_var" in name:
                    t.uniform_(0.5, 2.0)
                elif "running_mean" in name or name.endswith("_matrix"):
                    t.add_(0.05 * torch.randn_like(t))
        with tempfile.TemporaryDirectory() as d:
            p = os.path.join(d, "m.safetensors")
            export_dynrt(m, p)
            m2 = load_dynrt(p).eval()
            for k, v in m.state_dict().items():
                self.assertTrue(torch.equal(v, m2.state_dict()[k]), k)
            for c in (SubnetConfig.largest(arch), SubnetConfig.smallest(arch)):
                x = torch.randn(2, 3, c.r, c.r)
                m.set_active_subnet(c)
                m2.set_active_subnet(c)
                with torch.no_grad():
                    self.assertTrue(torch.equal(m(x), m2(x)))
            # header: u64 length, JSON, 8-byte aligned data, metadata strings
            with open(p, "rb") as f:
                raw = f.read()
            (n,) = struct.unpack("<Q", raw[:8])
            self.assertEqual((8 + n) % 8, 0)
            h = json.loads(raw[8:8 + n])
            self.assertEqual(h["__metadata__"]["dynrt.format"], "1")
            self.assertEqual(json.loads(h["__metadata__"]["dynrt.arch"]), arch.d)
            ends = sorted((v["data_offsets"][0], v["data_offsets"][1]) for k, v in h.items() if k != "__metadata__")
            self.assertEqual(ends[0][0], 0)
            self.assertEqual(ends[-1][1], len(raw) - 8 - n)
            for (b0, e0), (b1, e1) in zip(ends, ends[1:]):
                self.assertEqual(e0, b1)

    def test_engine_check(self):
        """verify_file passes a faithful file and catches one the model no longer matches."""
        dynrt = find_dynrt()
        if not dynrt:
            self.skipTest("no dynrt binary ($DYNRT_BIN or build/dynrt)")
        arch = cifar_arch("t", widths=(16, 16, 16, 24, 32, 40, 48), depths=(1, 2), head=(64, 80),
                          width_mults=(0.5, 1.0))
        def random_file(arch, seed, d):
            torch.manual_seed(seed)
            m = randomize_(DynamicMBV3(arch).eval())
            p = os.path.join(d, "m.safetensors")
            export_dynrt(m, p)
            return m, p

        with tempfile.TemporaryDirectory() as d:
            m, p = random_file(arch, 1, d)
            rows = verify_file(m, p, dynrt, n_random=2, n_images=8)
            self.assertEqual(len(rows), 4)
            self.assertTrue(all(r[1] <= 1e-4 and r[2] == 0 for r in rows), rows)
            with torch.no_grad():  # the file now holds other weights than the model
                m.head.classifier.weight.mul_(1.01)
            with self.assertRaises(VerifyError) as cm:
                verify_file(m, p, dynrt, n_random=2, n_images=8)
            self.assertIn("disagrees", str(cm.exception))
            with open(p, "r+b") as f:  # a file the engine cannot load
                f.truncate(1000)
            with self.assertRaises(EngineError) as cm:
                verify_file(m, p, dynrt, n_random=0, n_images=2)
            self.assertIn("failed", str(cm.exception))
        # a space of 4 sub-networks (width only): 2 + 3 requested, each verified once
        import train  # the cpu-width preset's architecture
        with tempfile.TemporaryDirectory() as d:
            m, p = random_file(train.preset("cpu-width")["arch"], 2, d)
            rows = verify_file(m, p, dynrt, n_random=3, n_images=4)
            self.assertEqual(len(rows), len(set(r[0] for r in rows)))
            self.assertLessEqual(len(rows), 4)

    def test_imagenet_names(self):
        specs = dynrt_tensor_specs(imagenet_arch())
        self.assertEqual(specs["stem.conv.weight"], [24, 3, 3, 3])
        self.assertEqual(specs["blocks.0.expand.weight"], [144, 24, 1, 1])
        self.assertEqual(specs["blocks.0.dw.weight"], [144, 1, 7, 7])
        self.assertEqual(specs["blocks.0.dw.7to5_matrix"], [25, 25])
        self.assertEqual(specs["blocks.0.dw.5to3_matrix"], [9, 9])
        self.assertEqual(specs["blocks.4.se.reduce.weight"], [48, 192, 1, 1])
        self.assertEqual(specs["blocks.19.proj.weight"], [192, 1152, 1, 1])
        self.assertEqual(specs["head.mix.weight"], [1536, 1152, 1, 1])
        self.assertEqual(specs["head.classifier.weight"], [1000, 1536])
        self.assertNotIn("blocks.0.se.reduce.weight", specs)
        m = DynamicMBV3(imagenet_arch())
        self.assertEqual(list(m.state_dict()), list(specs))

    def test_fixtures_reproducible(self):
        fx = os.path.join(REPO, "tests", "fixtures")
        with tempfile.TemporaryDirectory() as d:
            subprocess.check_call([sys.executable, os.path.join(REPO, "python", "make_fixture.py"), "--out", d],
                                  stdout=subprocess.DEVNULL)
            for name in ("tiny", "tiny_w"):
                for ext in (".safetensors", "_golden.json"):
                    a = read(os.path.join(d, name + ext))
                    b = read(os.path.join(fx, name + ext))
                    self.assertEqual(a, b, name + ext + " differs from a fresh make_fixture.py")

    def test_fixture_golden(self):
        # the golden logits are what the reference model computes from the file
        fx = os.path.join(REPO, "tests", "fixtures")
        for name in ("tiny", "tiny_w"):
            g = json.loads(read(os.path.join(fx, name + "_golden.json")))
            m = load_dynrt(os.path.join(fx, g["model"]), dtype=torch.float64).eval()
            self.assertGreaterEqual(len(g["cases"]), 10)
            for c in g["cases"]:
                m.set_active_subnet(c["config"])
                x = torch.tensor(np.asarray(c["input"], dtype=np.float32).reshape(c["input_shape"]),
                                 dtype=torch.float64).permute(0, 3, 1, 2)
                with torch.no_grad():
                    y = m(x)[0].numpy()
                np.testing.assert_allclose(y, c["logits"], rtol=0, atol=1e-12)
                self.assertEqual(m.active.to_string(m.arch), c["config"])
            tensors, meta = load_safetensors(os.path.join(fx, g["model"]))
            self.assertTrue(all(t.dtype == np.float32 for t in tensors.values()))


if __name__ == "__main__":
    torch.set_num_threads(1)
    unittest.main()
