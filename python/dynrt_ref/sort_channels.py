"""Channel importance sorting (Once-for-All's re_organize_middle_weights).

Before expand ratios become elastic, every block's middle channels are permuted so that the
most important ones (largest L1 norm of the projection weights reading them) come first; a
smaller expand ratio then keeps the channels that matter most. The permutation changes
nothing the largest network computes."""
import torch

from .arch import make_divisible


def _take(t, idx, dim):
    t.data = torch.index_select(t.data, dim, idx)


def _bn_take(bn, idx):
    for t in (bn.weight, bn.bias, bn.running_mean, bn.running_var):
        _take(t, idx, 0)


@torch.no_grad()
def reorganize_middle_weights(model, expand_stage=0):
    """expand_stage as in OFA: 0 = plain importance sort; k > 0 keeps the channels outside the
    k-th largest expand ratio's prefix outside it (for stepwise elastic-expand phases)."""
    arch = model.arch
    for blk in model.blocks:
        info = blk.info
        importance = blk.proj.weight.abs().sum(dim=(0, 2, 3))
        if expand_stage > 0:
            widths = [make_divisible(round(info.cin_max * e), arch.div)
                      for e in sorted(arch.expand_ratios, reverse=True)]
            right = len(importance)
            base = -len(widths) * 1e5
            for i in range(expand_stage + 1):
                left = widths[i]
                importance[left:right] += base
                base += 1e5
                right = left
        idx = torch.sort(importance, descending=True)[1]
        _take(blk.proj.weight, idx, 1)
        _bn_take(blk.dw_bn, idx)
        _take(blk.dw.weight, idx, 0)
        if info.se:
            _take(blk.se.expand.weight, idx, 0)
            _take(blk.se.expand.bias, idx, 0)
            _take(blk.se.reduce.weight, idx, 1)
            se_idx = torch.sort(blk.se.expand.weight.abs().sum(dim=(0, 2, 3)), descending=True)[1]
            _take(blk.se.expand.weight, se_idx, 1)
            _take(blk.se.reduce.weight, se_idx, 0)
            _take(blk.se.reduce.bias, se_idx, 0)
        _bn_take(blk.expand_bn, idx)
        _take(blk.expand.weight, idx, 0)
