#!/usr/bin/python3
"""Sub-network config strings (formats.md §2): parse/print round trip, canonical form of
inactive blocks, FNV-1a ids, rejection of bad strings."""
import os
import random
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "python"))
from dynrt_ref.arch import cifar_arch, imagenet_arch  # noqa: E402
from dynrt_ref.config import SubnetConfig, fmt_num, fnv1a64  # noqa: E402


class ConfigTest(unittest.TestCase):
    def setUp(self):
        self.archs = [imagenet_arch(), cifar_arch("t", width_mults=(0.5, 0.75, 1.0))]

    def test_fnv1a(self):
        # published FNV-1a 64 test vectors
        self.assertEqual(fnv1a64(b""), 0xCBF29CE484222325)
        self.assertEqual(fnv1a64(b"a"), 0xAF63DC4C8601EC8C)
        self.assertEqual(fnv1a64(b"foobar"), 0x85944171F73967E8)

    def test_width_format(self):
        self.assertEqual([fmt_num(v) for v in (1.0, 0.5, 0.75, 1.25, 2.0)],
                         ["1.0", "0.5", "0.75", "1.25", "2.0"])

    def test_round_trip(self):
        rng = random.Random(1)
        for arch in self.archs:
            for _ in range(200):
                c = SubnetConfig.sample(arch, rng)
                s = c.to_string(arch)
                p = SubnetConfig.parse(s, arch)
                self.assertEqual(p.to_string(arch), s)
                self.assertEqual(p.id(arch), c.id(arch))
                # fields in any order, any spacing
                toks = s.split()
                rng.shuffle(toks)
                self.assertEqual(SubnetConfig.parse("  ".join(toks), arch).to_string(arch), s)

    def test_canonical_inactive_blocks(self):
        arch = self.archs[0]
        c = SubnetConfig.smallest(arch)
        s = c.to_string(arch)
        # stage depth 2 of 4: blocks 3 and 4 of each stage print as the largest choice
        self.assertTrue(s.startswith("r=160 w=1.0 d=2,2,2,2,2 k=3,3,7,7,3,3,7,7"), s)
        d = c.canonical(arch)
        d.k[2] = 5
        d.e[3] = 4
        self.assertEqual(d.to_string(arch), s)
        self.assertEqual(d.id(arch), c.id(arch))

    def test_largest_string(self):
        arch = self.archs[0]
        s = SubnetConfig.largest(arch).to_string(arch)
        self.assertEqual(s, "r=224 w=1.0 d=4,4,4,4,4 k=" + ",".join(["7"] * 20) + " e=" + ",".join(["6"] * 20))

    def test_rejects(self):
        arch = self.archs[0]
        good = SubnetConfig.largest(arch).to_string(arch)
        bad = [good.replace("r=224", "r=225"), good.replace("w=1.0", "w=0.5"),
               good.replace("d=4,4,4,4,4", "d=4,4,4,4"), good.replace("d=4,4,4,4,4", "d=4,4,4,4,1"),
               good.replace("k=7,", "k=4,", 1), good.replace("e=6,", "e=5,", 1),
               good + " r=224", good + " q=1", good.replace(" e=", " e"), "",
               good.replace("k=7,", "k=,", 1), good.replace("r=224", "r=abc")]
        for b in bad:
            with self.assertRaises(ValueError, msg=b):
                SubnetConfig.parse(b, arch)

    def test_widths(self):
        arch = self.archs[1]
        c = SubnetConfig.smallest(arch)
        self.assertIn(" w=0.5 ", c.to_string(arch))
        c.w = 0.75
        self.assertIn(" w=0.75 ", c.to_string(arch))


if __name__ == "__main__":
    unittest.main()
