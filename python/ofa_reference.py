"""A stand-alone re-implementation of Once-for-All's OFAMobileNetV3 with OFA's own module
names (ofa/imagenet_classification/elastic_nn/networks/ofa_mbv3.py, modules/dynamic_layers.py,
modules/dynamic_op.py), used to test python/convert_ofa.py.

Its forward follows OFA's code paths (runtime depth, DynamicSeparableConv2d.get_active_filter,
DynamicSE, DynamicBatchNorm2d), written independently of dynrt_ref, so that parity between
the two after conversion checks the conversion and both implementations.

state_dict() keys are those of OFA checkpoints:
    first_conv.conv.weight, first_conv.bn.*,
    blocks.0.conv.depth_conv.conv.weight, blocks.0.conv.depth_conv.bn.*,
    blocks.0.conv.point_linear.conv.weight, blocks.0.conv.point_linear.bn.*,
    blocks.N.conv.inverted_bottleneck.conv.conv.weight, ...inverted_bottleneck.bn.bn.*,
    blocks.N.conv.depth_conv.conv.conv.weight, ...depth_conv.conv.7to5_matrix, ...5to3_matrix,
    blocks.N.conv.depth_conv.bn.bn.*, blocks.N.conv.depth_conv.se.fc.{reduce,expand}.{weight,bias},
    blocks.N.conv.point_linear.conv.conv.weight, ...point_linear.bn.bn.*,
    final_expand_layer.conv.weight, final_expand_layer.bn.*, feature_mix_layer.conv.weight,
    classifier.linear.linear.{weight,bias}
"""
from collections import OrderedDict

import torch
import torch.nn as nn
import torch.nn.functional as F


def make_divisible(v, divisor=8, min_val=None):
    if min_val is None:
        min_val = divisor
    new_v = max(min_val, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


def build_activation(name):
    return {"relu": nn.ReLU(), "h_swish": nn.Hardswish()}[name]


def sub_filter_start_end(kernel_size, sub_kernel_size):
    center = kernel_size // 2
    dev = sub_kernel_size // 2
    return center - dev, center + dev + 1


class DynamicConv2d(nn.Module):
    def __init__(self, max_in, max_out, kernel_size=1, stride=1):
        super().__init__()
        self.stride = stride
        self.conv = nn.Conv2d(max_in, max_out, kernel_size, stride, bias=False)
        self.active_out_channel = max_out

    def forward(self, x, out_channel=None):
        out_channel = out_channel or self.active_out_channel
        w = self.conv.weight[:out_channel, :x.size(1)]
        return F.conv2d(x, w, None, self.stride, w.size(-1) // 2)


class DynamicSeparableConv2d(nn.Module):
    KERNEL_TRANSFORM_MODE = 1

    def __init__(self, max_in, ks_list, stride=1):
        super().__init__()
        self.ks_list = ks_list
        self.stride = stride
        self.conv = nn.Conv2d(max_in, max_in, max(ks_list), stride, groups=max_in, bias=False)
        self._ks_set = sorted(set(ks_list), reverse=True)
        for i in range(len(self._ks_set) - 1):
            a, b = self._ks_set[i], self._ks_set[i + 1]
            self.register_parameter("%dto%d_matrix" % (a, b), nn.Parameter(torch.eye(b ** 2)))
        self.active_kernel_size = max(ks_list)

    def get_active_filter(self, in_channel, kernel_size):
        out_channel = in_channel
        max_ks = max(self.ks_list)
        start, end = sub_filter_start_end(max_ks, kernel_size)
        filters = self.conv.weight[:out_channel, :in_channel, start:end, start:end]
        if self.KERNEL_TRANSFORM_MODE and kernel_size < max_ks:
            start_filter = self.conv.weight[:out_channel, :in_channel, :, :]
            for i in range(len(self._ks_set) - 1):
                src_ks = self._ks_set[i]
                if src_ks <= kernel_size:
                    break
                target_ks = self._ks_set[i + 1]
                start, end = sub_filter_start_end(src_ks, target_ks)
                f = start_filter[:, :, start:end, start:end].contiguous()
                f = f.view(f.size(0), f.size(1), -1).view(-1, f.size(2) * f.size(3))
                f = F.linear(f, getattr(self, "%dto%d_matrix" % (src_ks, target_ks)))
                f = f.view(filters.size(0), filters.size(1), target_ks, target_ks)
                start_filter = f
            filters = start_filter
        return filters

    def forward(self, x):
        c = x.size(1)
        k = self.active_kernel_size
        return F.conv2d(x, self.get_active_filter(c, k).contiguous(), None, self.stride, k // 2, 1, c)


class DynamicBatchNorm2d(nn.Module):
    def __init__(self, max_c):
        super().__init__()
        self.bn = nn.BatchNorm2d(max_c)

    def forward(self, x):
        c = x.size(1)
        bn = self.bn
        return F.batch_norm(x, bn.running_mean[:c], bn.running_var[:c], bn.weight[:c], bn.bias[:c],
                            self.training, bn.momentum, bn.eps)


class DynamicSE(nn.Module):
    def __init__(self, channel, reduction=4):
        super().__init__()
        self.reduction = reduction
        num_mid = make_divisible(channel // reduction)
        self.fc = nn.Sequential(OrderedDict([
            ("reduce", nn.Conv2d(channel, num_mid, 1, 1, 0, bias=True)),
            ("relu", nn.ReLU()),
            ("expand", nn.Conv2d(num_mid, channel, 1, 1, 0, bias=True)),
            ("h_sigmoid", nn.Hardsigmoid()),
        ]))

    def forward(self, x):
        c = x.size(1)
        num_mid = make_divisible(c // self.reduction)
        y = x.mean(3, keepdim=True).mean(2, keepdim=True)
        y = F.conv2d(y, self.fc.reduce.weight[:num_mid, :c], self.fc.reduce.bias[:num_mid])
        y = self.fc.relu(y)
        y = F.conv2d(y, self.fc.expand.weight[:c, :num_mid], self.fc.expand.bias[:c])
        return x * self.fc.h_sigmoid(y)


class DynamicMBConvLayer(nn.Module):
    def __init__(self, max_in, max_out, ks_list, expand_list, stride, act, use_se):
        super().__init__()
        self.expand_list = expand_list
        self.max_out = max_out
        mid = make_divisible(round(max_in * max(expand_list)))
        self.inverted_bottleneck = nn.Sequential(OrderedDict([
            ("conv", DynamicConv2d(max_in, mid)), ("bn", DynamicBatchNorm2d(mid)),
            ("act", build_activation(act))]))
        self.depth_conv = nn.Sequential(OrderedDict([
            ("conv", DynamicSeparableConv2d(mid, ks_list, stride)), ("bn", DynamicBatchNorm2d(mid)),
            ("act", build_activation(act))]))
        if use_se:
            self.depth_conv.add_module("se", DynamicSE(mid))
        self.point_linear = nn.Sequential(OrderedDict([
            ("conv", DynamicConv2d(mid, max_out)), ("bn", DynamicBatchNorm2d(max_out))]))
        self.active_expand_ratio = max(expand_list)

    def forward(self, x):
        mid = make_divisible(round(x.size(1) * self.active_expand_ratio))
        self.inverted_bottleneck.conv.active_out_channel = mid
        self.point_linear.conv.active_out_channel = self.max_out
        return self.point_linear(self.depth_conv(self.inverted_bottleneck(x)))


class MBConvLayer(nn.Module):
    """OFA's static MBConvLayer with expand_ratio 1 (the first block)."""

    def __init__(self, cin, cout, k, stride, act):
        super().__init__()
        self.depth_conv = nn.Sequential(OrderedDict([
            ("conv", nn.Conv2d(cin, cin, k, stride, k // 2, groups=cin, bias=False)),
            ("bn", nn.BatchNorm2d(cin)), ("act", build_activation(act))]))
        self.point_linear = nn.Sequential(OrderedDict([
            ("conv", nn.Conv2d(cin, cout, 1, 1, 0, bias=False)), ("bn", nn.BatchNorm2d(cout))]))

    def forward(self, x):
        return self.point_linear(self.depth_conv(x))


class ResidualBlock(nn.Module):
    def __init__(self, conv, shortcut):
        super().__init__()
        self.conv = conv
        self.shortcut = shortcut

    def forward(self, x):
        y = self.conv(x)
        return y + x if self.shortcut else y


class ConvLayer(nn.Module):
    def __init__(self, cin, cout, k=1, stride=1, use_bn=True, act="h_swish"):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, stride, k // 2, bias=False)
        if use_bn:
            self.bn = nn.BatchNorm2d(cout)
        self.act = build_activation(act)

    def forward(self, x):
        x = self.conv(x)
        if hasattr(self, "bn"):
            x = self.bn(x)
        return self.act(x)


class DynamicLinearLayer(nn.Module):
    """Named like OFA's DynamicLinearLayer (classifier.linear.linear.*)."""

    def __init__(self, cin, cout):
        super().__init__()
        self.linear = nn.Module()
        self.linear.linear = nn.Linear(cin, cout)

    def forward(self, x):
        return self.linear.linear(x)


class OFAMobileNetV3(nn.Module):
    def __init__(self, n_classes=1000, width_mult=1.2, ks_list=(3, 5, 7), expand_ratio_list=(3, 4, 6),
                 depth_list=(2, 3, 4)):
        super().__init__()
        self.ks_list = sorted(ks_list)
        self.expand_ratio_list = sorted(expand_ratio_list)
        self.depth_list = sorted(depth_list)
        base_stage_width = [16, 16, 24, 40, 80, 112, 160, 960, 1280]
        final_expand_width = make_divisible(base_stage_width[-2] * width_mult)
        last_channel = make_divisible(base_stage_width[-1] * width_mult)
        stride_stages = [1, 2, 2, 2, 1, 2]
        act_stages = ["relu", "relu", "relu", "h_swish", "h_swish", "h_swish"]
        se_stages = [False, False, True, False, True, True]
        n_block_list = [1] + [max(self.depth_list)] * 5
        width_list = [make_divisible(w * width_mult) for w in base_stage_width[:-2]]
        input_channel, first_block_dim = width_list[0], width_list[1]
        self.first_conv = ConvLayer(3, input_channel, 3, 2, act="h_swish")
        first = MBConvLayer(input_channel, first_block_dim, 3, stride_stages[0], act_stages[0])
        blocks = [ResidualBlock(first, input_channel == first_block_dim)]
        self.block_group_info = []
        idx = 1
        feature_dim = first_block_dim
        for width, n_block, s, act, use_se in zip(width_list[2:], n_block_list[1:], stride_stages[1:],
                                                  act_stages[1:], se_stages[1:]):
            self.block_group_info.append([idx + i for i in range(n_block)])
            idx += n_block
            for i in range(n_block):
                stride = s if i == 0 else 1
                conv = DynamicMBConvLayer(feature_dim, width, self.ks_list, self.expand_ratio_list,
                                          stride, act, use_se)
                blocks.append(ResidualBlock(conv, stride == 1 and feature_dim == width))
                feature_dim = width
        self.blocks = nn.ModuleList(blocks)
        self.final_expand_layer = ConvLayer(feature_dim, final_expand_width, 1, act="h_swish")
        self.feature_mix_layer = ConvLayer(final_expand_width, last_channel, 1, use_bn=False, act="h_swish")
        self.classifier = DynamicLinearLayer(last_channel, n_classes)
        self.runtime_depth = [len(b) for b in self.block_group_info]

    def set_active_subnet(self, ks, e, d):
        for block, k, ee in zip(self.blocks[1:], ks, e):
            block.conv.depth_conv.conv.active_kernel_size = k
            block.conv.active_expand_ratio = ee
        self.runtime_depth = list(d)

    def forward(self, x):
        x = self.first_conv(x)
        x = self.blocks[0](x)
        for stage_id, block_idx in enumerate(self.block_group_info):
            for idx in block_idx[:self.runtime_depth[stage_id]]:
                x = self.blocks[idx](x)
        x = self.final_expand_layer(x)
        x = x.mean(3, keepdim=True).mean(2, keepdim=True)
        x = self.feature_mix_layer(x)
        return self.classifier(x.view(x.size(0), -1))


def randomise(net, seed=0):
    """Random weights, BN statistics and kernel-transform matrices (a fresh OFA network has
    identity matrices and unit statistics, which would hide mapping mistakes)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in net.named_parameters():
            if name.endswith("_matrix"):
                p.copy_(torch.eye(p.shape[0]) + 0.05 * torch.randn(p.shape, generator=g))
            elif p.dim() == 4:
                fan_in = p.shape[1] * p.shape[2] * p.shape[3]
                p.copy_(torch.randn(p.shape, generator=g) * (1.0 / fan_in) ** 0.5)
            elif p.dim() == 2:
                p.copy_(torch.randn(p.shape, generator=g) * (1.0 / p.shape[1]) ** 0.5)
            else:
                p.copy_(0.1 * torch.randn(p.shape, generator=g) + (1.0 if name.endswith("bn.weight") else 0.0))
        for m in net.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.copy_(0.1 * torch.randn(m.running_mean.shape, generator=g))
                m.running_var.copy_(0.5 + torch.rand(m.running_var.shape, generator=g))
    return net
