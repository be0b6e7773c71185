#!/usr/bin/python3
"""Export one sub-network of a dynrt model as a stand-alone static network, the way a user of
another runtime would deploy it: ONNX (opset 13, NCHW input [1,3,r,r], output [1,classes]),
a plain PyTorch module, or a flat layer list for the C peer programs of bench/peers/.

    python/export_onnx.py MODEL.safetensors --subnet "r=.. w=.. d=.. k=.. e=.." -o net.onnx
    python/export_onnx.py MODEL.safetensors --largest -o net.onnx [--layers net.layers]

The static network is the active sub-network with its weights sliced (channel prefixes, the
active depthwise kernel after the kernel transform) and made contiguous, and every BatchNorm
(the file's statistics) folded into the preceding convolution as weight scale and bias. That
is what ONNX Runtime, XNNPACK, oneDNN and PyTorch users run; dynrt applies BN in its kernel
epilogue instead, so outputs agree to float rounding, not bit for bit.

Layer list (`--layers`, read by bench/peers/peer_xnnpack.c and peer_onednn.c): a text header,
one line per op, then the float32 data:
    dynrt-layers 1 <r> <num_classes> <n_ops> <n_floats>
    conv <cin> <cout> <k> <stride> <groups> <act> <h_in> <w_off> <b_off>   weight [cout][k][k][cin/groups]
    se <c> <c_mid> <w1_off> <b1_off> <w2_off> <b2_off>   w1 [c_mid][c], w2 [c][c_mid]
    save | add                                           push the tensor / add the pushed one
    gap                                                  global average pool to [1,1,C]
    fc <cin> <cout> <act> <w_off> <b_off>                weight [cout][cin], b_off -1: no bias
    end
followed by "\\n" and <n_floats> little-endian float32 (offsets are in floats). act is one of
relu, relu6, hswish, none. Activations are NHWC.
"""
import argparse
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dynrt_ref.arch import conv_out  # noqa: E402
from dynrt_ref.config import SubnetConfig  # noqa: E402
from dynrt_ref.model import DynamicMBV3  # noqa: E402
from dynrt_ref.safetensors_io import load_dynrt  # noqa: E402


def _act_module(name):
    return {"relu": nn.ReLU(), "relu6": nn.ReLU6(), "hswish": nn.Hardswish(),
            "none": nn.Identity()}[name]


def _folded_conv(w, bn, stride, groups, act, eps):
    """nn.Conv2d (+activation) with BN (the file's statistics) folded into weight and bias."""
    c = w.shape[0]
    scale = bn.weight[:c] / torch.sqrt(bn.running_var[:c] + eps)
    shift = bn.bias[:c] - bn.running_mean[:c] * scale
    k = w.shape[-1]
    conv = nn.Conv2d(w.shape[1] * groups, c, k, stride, k // 2, groups=groups, bias=True)
    conv.weight.data = (w * scale.view(-1, 1, 1, 1)).contiguous().clone()
    conv.bias.data = shift.contiguous().clone()
    return _StaticConv(conv, act)


class _StaticConv(nn.Module):
    def __init__(self, conv, act):
        super().__init__()
        self.conv, self.act_name, self.act = conv, act, _act_module(act)

    def forward(self, x):
        return self.act(self.conv(x))


class _StaticSE(nn.Module):
    def __init__(self, w1, b1, w2, b2):
        super().__init__()
        self.reduce = nn.Conv2d(w1.shape[1], w1.shape[0], 1, bias=True)
        self.expand = nn.Conv2d(w2.shape[1], w2.shape[0], 1, bias=True)
        self.reduce.weight.data, self.reduce.bias.data = w1.contiguous().clone(), b1.contiguous().clone()
        self.expand.weight.data, self.expand.bias.data = w2.contiguous().clone(), b2.contiguous().clone()

    def forward(self, x):
        s = x.mean((2, 3), keepdim=True)
        return x * F.hardsigmoid(self.expand(F.relu(self.reduce(s))))


class _StaticBlock(nn.Module):
    def __init__(self, layers, residual):
        super().__init__()
        self.layers = nn.Sequential(*layers)
        self.residual = residual

    def forward(self, x):
        y = self.layers(x)
        return y + x if self.residual else y


class StaticSubnet(nn.Module):
    """A sub-network as a static PyTorch network (BN folded, weights copied)."""

    def __init__(self, body, mix_w, mix_act, cls_w, cls_b, r):
        super().__init__()
        self.body = nn.Sequential(*body)
        self.mix = nn.Linear(mix_w.shape[1], mix_w.shape[0], bias=False)
        self.mix.weight.data = mix_w.contiguous().clone()
        self.mix_act = _act_module(mix_act)
        self.mix_act_name = mix_act
        self.classifier = nn.Linear(cls_w.shape[1], cls_w.shape[0], bias=True)
        self.classifier.weight.data = cls_w.contiguous().clone()
        self.classifier.bias.data = cls_b.contiguous().clone()
        self.r = r

    def forward(self, x):
        x = self.body(x)
        x = x.mean((2, 3))
        return self.classifier(self.mix_act(self.mix(x)))


@torch.no_grad()
def static_subnet(model, cfg):
    """StaticSubnet of `cfg` (SubnetConfig or string) from a DynamicMBV3 `model`."""
    arch = model.arch
    if isinstance(cfg, str):
        cfg = SubnetConfig.parse(cfg, arch)
    cfg.validate(arch)
    a = arch.d
    eps = a["bn_eps"]
    aw = lambda c: arch.active_width(c, cfg.w)  # noqa: E731
    st, fb, hd = a["stem"], a["first_block"], a["head"]
    body = []
    c0, c1 = aw(st["out"]), aw(fb["out"])
    body.append(_folded_conv(model.stem.conv.weight[:c0], model.stem.bn, st["stride"], 1, st["act"], eps))
    first = [_folded_conv(model.first.dw.weight[:c0], model.first.dw_bn, fb["stride"], c0, fb["act"], eps),
             _folded_conv(model.first.proj.weight[:c1, :c0], model.first.proj_bn, 1, 1, "none", eps)]
    body.append(_StaticBlock(first, fb["stride"] == 1 and st["out"] == fb["out"]))
    cin = c1
    for j, cout, e, k in model.active_plan(cfg):
        blk, info = model.blocks[j], model.blocks[j].info
        mid = arch.mid_channels(cin, e)
        layers = [_folded_conv(blk.expand.weight[:mid, :cin], blk.expand_bn, 1, 1, info.act, eps),
                  _folded_conv(blk.dw.filters(mid, k), blk.dw_bn, info.stride, mid, info.act, eps)]
        if info.se:
            sm = arch.se_channels(mid)
            layers.append(_StaticSE(blk.se.reduce.weight[:sm, :mid], blk.se.reduce.bias[:sm],
                                    blk.se.expand.weight[:mid, :sm], blk.se.expand.bias[:mid]))
        layers.append(_folded_conv(blk.proj.weight[:cout, :mid], blk.proj_bn, 1, 1, "none", eps))
        body.append(_StaticBlock(layers, info.residual))
        cin = cout
    fe, fm = aw(hd["final_expand"]), aw(hd["feature_mix"])
    body.append(_folded_conv(model.head.expand.weight[:fe, :cin], model.head.expand_bn, 1, 1, hd["act"], eps))
    net = StaticSubnet(body, model.head.mix.weight[:fm, :fe, 0, 0], hd["act"],
                       model.head.classifier.weight[:, :fm], model.head.classifier.bias, cfg.r)
    return net.eval()


def export_onnx(net, path, opset=13):
    """Writes the static network as ONNX: input "input" [1,3,r,r] NCHW, output "logits"."""
    x = torch.zeros(1, 3, net.r, net.r)
    torch.onnx.export(net, x, path, opset_version=opset, input_names=["input"],
                      output_names=["logits"], do_constant_folding=True)


def write_layers(net, path):
    """Flat layer list for the C peers (format in the module docstring)."""
    ops, blob = [], []
    n = [0]

    def put(t):
        a = t.detach().float().contiguous().numpy().ravel()
        off = n[0]
        blob.append(a)
        n[0] += a.size
        return off

    h = [net.r]

    def conv(m):
        w = m.conv.weight  # [cout, cin/g, k, k] -> [cout][k][k][cin/g]
        g, s, k = m.conv.groups, m.conv.stride[0], w.shape[-1]
        ops.append("conv %d %d %d %d %d %s %d %d %d" % (
            w.shape[1] * g, w.shape[0], k, s, g, m.act_name, h[0], put(w.permute(0, 2, 3, 1)),
            put(m.conv.bias)))
        h[0] = conv_out(h[0], k, s)

    for blk in net.body:
        if isinstance(blk, _StaticConv):
            conv(blk)
            continue
        if blk.residual:
            ops.append("save")
        for m in blk.layers:
            if isinstance(m, _StaticSE):
                ops.append("se %d %d %d %d %d %d" % (
                    m.reduce.in_channels, m.reduce.out_channels, put(m.reduce.weight[:, :, 0, 0]),
                    put(m.reduce.bias), put(m.expand.weight[:, :, 0, 0]), put(m.expand.bias)))
            else:
                conv(m)
        if blk.residual:
            ops.append("add")
    ops.append("gap")
    ops.append("fc %d %d %s %d -1" % (net.mix.in_features, net.mix.out_features, net.mix_act_name,
                                     put(net.mix.weight)))
    ops.append("fc %d %d none %d %d" % (net.classifier.in_features, net.classifier.out_features,
                                       put(net.classifier.weight), put(net.classifier.bias)))
    ops.append("end")
    data = np.concatenate(blob).astype("<f4")
    with open(path, "wb") as f:
        f.write(("dynrt-layers 1 %d %d %d %d\n" % (net.r, net.classifier.out_features, len(ops) - 1,
                                                   data.size)).encode())
        f.write(("\n".join(ops) + "\n").encode())
        f.write(data.tobytes())


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("model", help="dynrt model (.safetensors)")
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--subnet", help="sub-network string (docs/formats.md §2)")
    g.add_argument("--largest", action="store_true")
    g.add_argument("--smallest", action="store_true")
    p.add_argument("-o", "--onnx", help="ONNX output path")
    p.add_argument("--layers", help="flat layer list output path (C peers)")
    p.add_argument("--torch", help="TorchScript-free pickle of the static module (torch.save)")
    p.add_argument("--opset", type=int, default=13)
    args = p.parse_args()
    model = load_dynrt(args.model).eval()
    if args.subnet:
        cfg = SubnetConfig.parse(args.subnet, model.arch)
    else:
        cfg = (SubnetConfig.largest if args.largest else SubnetConfig.smallest)(model.arch)
    net = static_subnet(model, cfg)
    if args.onnx:
        export_onnx(net, args.onnx, args.opset)
    if args.layers:
        write_layers(net, args.layers)
    if args.torch:
        torch.save(net, args.torch)
    print("export_onnx: %s" % cfg.to_string(model.arch))


if __name__ == "__main__":
    main()
