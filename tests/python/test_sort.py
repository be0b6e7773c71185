#!/usr/bin/python3
"""Channel sorting (OFA's re_organize_middle_weights, and the width sort for elastic width)
leaves the largest network's function unchanged and puts the most important channels first."""
import os
import sys
import unittest

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "python"))
from dynrt_ref.arch import cifar_arch  # noqa: E402
from dynrt_ref.config import SubnetConfig  # noqa: E402
from dynrt_ref.model import DynBN, DynamicMBV3  # noqa: E402
from dynrt_ref.sort_channels import reorganize_middle_weights, reorganize_widths  # noqa: E402


class SortTest(unittest.TestCase):
    def check(self, arch):
        torch.manual_seed(0)
        m = DynamicMBV3(arch).double().eval()
        with torch.no_grad():
            for mod in m.modules():
                if isinstance(mod, DynBN):
                    mod.running_mean.normal_(0, 0.1)
                    mod.running_var.uniform_(0.5, 2)
                    mod.bias.normal_(0, 0.1)
            for b in m.blocks:
                if b.info.se:
                    b.se.reduce.bias.normal_(0, 0.1)
                    b.se.expand.bias.normal_(0, 0.1)
        big = SubnetConfig.largest(arch)
        m.set_active_subnet(big)
        x = torch.randn(3, 3, big.r, big.r, dtype=torch.float64)
        with torch.no_grad():
            y0 = m(x)
            reorganize_middle_weights(m, 0)
            y1 = m(x)
            reorganize_widths(m)
            y2 = m(x)
        self.assertLess((y0 - y1).abs().max().item(), 1e-10)
        self.assertLess((y0 - y2).abs().max().item(), 1e-10)
        imp = m.blocks[0].proj.weight.abs().sum(dim=(0, 2, 3))
        self.assertTrue(bool((imp[:-1] >= imp[1:]).all()))
        imp = m.head.mix.weight.abs().sum(dim=(1, 2, 3))
        self.assertTrue(bool((imp[:-1] >= imp[1:]).all()))

    def test_sort_preserves_largest(self):
        self.check(cifar_arch("a", widths=(16, 16, 16, 24, 32, 40, 48), depths=(1, 2), head=(64, 80),
                              width_mults=(0.5, 1.0)))
        # stem and first block of different widths (no shortcut around the first block)
        self.check(cifar_arch("b", widths=(8, 16, 16, 24, 24, 40, 48), depths=(2,), head=(32, 40),
                              strides=(1, 2, 1, 2, 1, 2)))


if __name__ == "__main__":
    unittest.main()
