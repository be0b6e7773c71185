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


def _perm(importance):
    return torch.sort(importance, descending=True)[1]


@torch.no_grad()
def reorganize_widths(model):
    """Sort the channels of every layer whose width scales with the width multiplier (stem,
    first block, each stage's residual stream, head), most important first, so that a
    smaller multiplier keeps the channels that matter most. Each permutation is applied to
    the layer that writes the channels and to every layer that reads them; a stage's blocks
    share one permutation because their residual additions tie the channels together.
    The largest network computes exactly the same function afterwards."""
    a = model.arch.d
    blocks = model.blocks
    infos = model.block_info
    first_res = a["first_block"]["stride"] == 1 and a["stem"]["out"] == a["first_block"]["out"]

    # stem (and, when the first block adds its input, the first block's output too)
    p0 = _perm(model.stem.conv.weight.abs().sum(dim=(1, 2, 3)))
    _take(model.stem.conv.weight, p0, 0)
    _bn_take(model.stem.bn, p0)
    _take(model.first.dw.weight, p0, 0)
    _bn_take(model.first.dw_bn, p0)
    _take(model.first.proj.weight, p0, 1)
    if first_res:
        p1 = p0
    else:
        p1 = _perm(model.first.proj.weight.abs().sum(dim=(1, 2, 3)))
    _take(model.first.proj.weight, p1, 0)
    _bn_take(model.first.proj_bn, p1)
    # input of the first stage block
    _take(blocks[0].expand.weight, p1, 1)

    # each stage's stream: written by every block's projection, read by the next block's
    # expansion (or the head); a stage whose first block adds its input continues the
    # previous stream and keeps its order
    j = 0
    p = p1
    for st in a["stages"]:
        n = max(st["depths"])
        idx = list(range(j, j + n))
        if not infos[j].residual:
            p = _perm(sum(blocks[b].proj.weight.abs().sum(dim=(1, 2, 3)) for b in idx))
        for b in idx:
            _take(blocks[b].proj.weight, p, 0)
            _bn_take(blocks[b].proj_bn, p)
            if b + 1 < len(blocks):
                _take(blocks[b + 1].expand.weight, p, 1)
        if j + n == len(blocks):
            _take(model.head.expand.weight, p, 1)
        j += n
    assert j == len(infos)

    pe = _perm(model.head.expand.weight.abs().sum(dim=(1, 2, 3)))
    _take(model.head.expand.weight, pe, 0)
    _bn_take(model.head.expand_bn, pe)
    _take(model.head.mix.weight, pe, 1)
    pm = _perm(model.head.mix.weight.abs().sum(dim=(1, 2, 3)))
    _take(model.head.mix.weight, pm, 0)
    _take(model.head.classifier.weight, pm, 1)
