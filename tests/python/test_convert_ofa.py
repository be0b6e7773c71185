#!/usr/bin/python3
"""convert_ofa parity: a randomly initialised OFA-named reference network, converted to a dynrt
file and loaded by dynrt_ref, gives the same logits on several sub-networks; every naming
variant of OFA checkpoints converts to the same file."""
import os
import sys
import tempfile
import unittest

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "python"))
import convert_ofa  # noqa: E402
import ofa_reference  # noqa: E402
from dynrt_ref.arch import imagenet_arch  # noqa: E402
from dynrt_ref.config import SubnetConfig  # noqa: E402
from dynrt_ref.safetensors_io import load_dynrt, load_safetensors, save_safetensors  # noqa: E402


def variant(sd, how):
    """Re-spell the keys the way other OFA releases do."""
    out = {}
    for k, v in sd.items():
        if how == "old":
            k = k.replace("blocks.", "module.blocks.", 1) if k.startswith("blocks.") else "module." + k
            k = k.replace(".conv.", ".mobile_inverted_conv.", 1) if ".conv.depth_conv" in k or \
                ".conv.inverted_bottleneck" in k or ".conv.point_linear" in k else k
        elif how == "static":
            k = k.replace("classifier.linear.linear.", "classifier.linear.").replace(".bn.bn.", ".bn.")
            k = k.replace(".conv.conv.weight", ".conv.weight")
        out[k] = v
    return out


class ConvertOFATest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        torch.manual_seed(0)
        cls.ref = ofa_reference.randomise(ofa_reference.OFAMobileNetV3(), seed=3).double().eval()
        cls.arch = imagenet_arch()
        cls.tmp = tempfile.TemporaryDirectory()
        sd = cls.ref.state_dict()
        cls.sd = sd
        cls.path = os.path.join(cls.tmp.name, "ofa.safetensors")
        tensors = convert_ofa.convert_state_dict(sd, cls.arch)
        save_safetensors(cls.path, tensors, {"dynrt.format": "1", "dynrt.arch": cls.arch.to_json()})
        cls.model = load_dynrt(cls.path, dtype=torch.float64).eval()

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_keys_cover_checkpoint(self):
        # the reference network has exactly OFA's checkpoint keys, and every one is used
        n = sum(1 for k in self.sd if not k.endswith("num_batches_tracked"))
        tensors, _ = load_safetensors(self.path)
        self.assertEqual(n, len(tensors))
        self.assertIn("blocks.1.conv.depth_conv.conv.7to5_matrix", self.sd)
        self.assertIn("classifier.linear.linear.weight", self.sd)

    def test_parity(self):
        import random
        rng = random.Random(5)
        cfgs = [SubnetConfig.largest(self.arch), SubnetConfig.smallest(self.arch)]
        cfgs += [SubnetConfig.sample(self.arch, rng) for _ in range(3)]
        cfgs[-1].r = 172
        for c in cfgs:
            x = torch.randn(2, 3, c.r, c.r, generator=torch.Generator().manual_seed(c.r),
                            dtype=torch.float64)
            self.model.set_active_subnet(c)
            self.ref.set_active_subnet(c.k, c.e, c.d)
            with torch.no_grad():
                a = self.model(x)
                b = self.ref(x)
            err = (a - b).abs().max().item()
            self.assertLess(err, 1e-9 * max(1.0, b.abs().max().item()), "%s: max diff %g" % (c.to_string(self.arch), err))
            self.assertGreater(b.std().item(), 1e-3)  # the logits are not degenerate

    def test_naming_variants(self):
        ref = convert_ofa.convert_state_dict(self.sd, self.arch)
        for how in ("old", "static"):
            got = convert_ofa.convert_state_dict({"state_dict": variant(self.sd, how)}, self.arch)
            self.assertEqual(list(ref), list(got))
            for k in ref:
                self.assertTrue(torch.equal(ref[k], got[k]), k)

    def test_rejects_bad_checkpoints(self):
        sd = dict(self.sd)
        del sd["blocks.5.conv.depth_conv.se.fc.reduce.bias"]
        with self.assertRaises(ValueError):
            convert_ofa.convert_state_dict(sd, self.arch)
        sd = dict(self.sd)
        sd["blocks.2.conv.point_linear.conv.conv.weight"] = torch.zeros(3, 3, 1, 1)
        with self.assertRaises(ValueError):
            convert_ofa.convert_state_dict(sd, self.arch)
        sd = dict(self.sd)
        sd["blocks.2.extra"] = torch.zeros(1)
        with self.assertRaises(ValueError):
            convert_ofa.convert_state_dict(sd, self.arch)


if __name__ == "__main__":
    torch.set_num_threads(1)
    unittest.main()
