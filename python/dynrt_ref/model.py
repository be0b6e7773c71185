"""PyTorch reference model of the dynrt ofa-mbv3 super-network (docs/formats.md §1.1).

Module and parameter names equal the dynrt tensor names of §1.2, so `state_dict()` (which has
no num_batches_tracked: the BN layers here are dynrt's own) maps one to one onto a dynrt file.
Every layer slices channel prefixes of its weights for the active sub-network, exactly as the
C engine does, so this model is the oracle for the engine's parity tests.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F

from .arch import Arch, conv_out
from .config import SubnetConfig


def act_fn(name):
    if name == "relu":
        return F.relu
    if name == "relu6":
        return F.relu6
    if name == "hswish":
        return F.hardswish  # x * relu6(x + 3) / 6
    if name == "none":
        return lambda x: x
    raise ValueError("unknown activation %r" % name)


class Weight(nn.Module):
    """Holder of a convolution / linear weight (and optional bias): only gives names."""

    def __init__(self, shape, bias=False):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(*shape))
        self.bias = nn.Parameter(torch.zeros(shape[0])) if bias else None


class DynBN(nn.Module):
    """BatchNorm over the first C channels of its (maximum-size) parameters.

    Its running statistics are views of the buffers, so training and calibration update the
    prefix in place (as OFA's DynamicBatchNorm2d). `calibrating` switches to a cumulative
    average, used to recompute the statistics of one sub-network."""

    def __init__(self, c, eps, momentum=0.1):
        super().__init__()
        self.eps = eps
        self.momentum = momentum
        self.weight = nn.Parameter(torch.ones(c))
        self.bias = nn.Parameter(torch.zeros(c))
        self.register_buffer("running_mean", torch.zeros(c))
        self.register_buffer("running_var", torch.ones(c))
        self.calibrating = False
        self.calib_batches = 0

    def forward(self, x):
        c = x.shape[1]
        if self.training and self.calibrating:
            self.calib_batches += 1
            momentum = 1.0 / self.calib_batches
        else:
            momentum = self.momentum
        return F.batch_norm(x, self.running_mean[:c], self.running_var[:c], self.weight[:c],
                            self.bias[:c], self.training, momentum, self.eps)


class SE(nn.Module):
    def __init__(self, mid_max, se_max):
        super().__init__()
        self.reduce = Weight((se_max, mid_max, 1, 1), bias=True)
        self.expand = Weight((mid_max, se_max, 1, 1), bias=True)


class DepthwiseWeight(nn.Module):
    """Depthwise kmax x kmax kernel plus the learned kernel-transform matrices."""

    def __init__(self, c, kmax, steps):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(c, 1, kmax, kmax))
        self.kmax = kmax
        self.steps = steps
        for a, b in steps:
            # identity initialisation: a fresh transform is a plain centre crop
            self.register_parameter("%dto%d_matrix" % (a, b), nn.Parameter(torch.eye(b * b)))

    def filters(self, c, k):
        """Active [c, 1, k, k] kernel, chaining centre crop and matrix step by step."""
        w = self.weight[:c]
        if k == self.kmax:
            return w
        if not self.steps:
            s = (self.kmax - k) // 2
            return w[:, :, s:s + k, s:s + k]
        for a, b in self.steps:
            if a <= k:
                break
            s = (a - b) // 2
            crop = w[:, :, s:s + b, s:s + b].reshape(c, b * b)
            w = F.linear(crop, getattr(self, "%dto%d_matrix" % (a, b))).reshape(c, 1, b, b)
        return w


class Block(nn.Module):
    def __init__(self, info, arch):
        super().__init__()
        eps = arch["bn_eps"]
        self.info = info
        self.act = act_fn(info.act)
        self.expand = Weight((info.mid_max, info.cin_max, 1, 1))
        self.expand_bn = DynBN(info.mid_max, eps)
        self.dw = DepthwiseWeight(info.mid_max, arch.kmax, arch.kernel_steps())
        self.dw_bn = DynBN(info.mid_max, eps)
        if info.se:
            self.se = SE(info.mid_max, info.se_max)
        self.proj = Weight((info.cout_max, info.mid_max, 1, 1))
        self.proj_bn = DynBN(info.cout_max, eps)

    def forward(self, x, cout, e, k, arch):
        cin = x.shape[1]
        mid = arch.mid_channels(cin, e)
        y = F.conv2d(x, self.expand.weight[:mid, :cin])
        y = self.act(self.expand_bn(y))
        y = F.conv2d(y, self.dw.filters(mid, k), None, self.info.stride, k // 2, 1, mid)
        y = self.act(self.dw_bn(y))
        if self.info.se:
            sm = arch.se_channels(mid)
            s = y.mean((2, 3), keepdim=True)
            s = F.relu(F.conv2d(s, self.se.reduce.weight[:sm, :mid], self.se.reduce.bias[:sm]))
            s = F.hardsigmoid(F.conv2d(s, self.se.expand.weight[:mid, :sm], self.se.expand.bias[:mid]))
            y = y * s
        y = self.proj_bn(F.conv2d(y, self.proj.weight[:cout, :mid]))
        if self.info.residual:
            y = y + x
        return y


class _Group(nn.Module):
    """Named container (stem / first / head): only gives the tensor names their prefixes."""


class DynamicMBV3(nn.Module):
    def __init__(self, arch, dropout=0.0):
        super().__init__()
        if not isinstance(arch, Arch):
            arch = Arch(arch)
        self.arch = arch
        a = arch.d
        eps = a["bn_eps"]
        st, fb, hd = a["stem"], a["first_block"], a["head"]

        self.stem = _Group()
        self.stem.conv = Weight((st["out"], 3, st["kernel"], st["kernel"]))
        self.stem.bn = DynBN(st["out"], eps)

        self.first = _Group()
        self.first.dw = Weight((st["out"], 1, fb["kernel"], fb["kernel"]))
        self.first.dw_bn = DynBN(st["out"], eps)
        self.first.proj = Weight((fb["out"], st["out"], 1, 1))
        self.first.proj_bn = DynBN(fb["out"], eps)

        self.block_info = arch.blocks()
        self.blocks = nn.ModuleList([Block(b, arch) for b in self.block_info])

        last = a["stages"][-1]["width"]
        self.head = _Group()
        self.head.expand = Weight((hd["final_expand"], last, 1, 1))
        self.head.expand_bn = DynBN(hd["final_expand"], eps)
        self.head.mix = Weight((hd["feature_mix"], hd["final_expand"], 1, 1))
        self.head.classifier = Weight((a["num_classes"], hd["feature_mix"]), bias=True)

        self.dropout = dropout
        self.reset_parameters()
        self.set_active_subnet(SubnetConfig.largest(arch))

    def reset_parameters(self):
        # OFA's init: kaiming normal fan_out for convolutions, N(0, 0.01) for the classifier
        for name, p in self.named_parameters():
            if name.endswith("_matrix"):
                continue
            if p.dim() == 4:
                fan_out = p.shape[0] * p.shape[2] * p.shape[3]
                if name.endswith("dw.weight"):
                    fan_out = p.shape[2] * p.shape[3]  # depthwise: one input per output
                nn.init.normal_(p, 0.0, (2.0 / fan_out) ** 0.5)
            elif p.dim() == 2:
                nn.init.normal_(p, 0.0, 0.01)
        for m in self.modules():
            if isinstance(m, DynBN):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            if isinstance(m, Weight) and m.bias is not None:
                nn.init.zeros_(m.bias)

    # --- sub-network selection ------------------------------------------------------------
    def set_active_subnet(self, cfg):
        if isinstance(cfg, str):
            cfg = SubnetConfig.parse(cfg, self.arch)
        cfg.validate(self.arch)
        self.active = cfg

    def active_plan(self, cfg=None):
        """[(block index, cout, e, k)] of the active blocks, in order."""
        cfg = cfg or self.active
        aw = lambda c: self.arch.active_width(c, cfg.w)  # noqa: E731
        plan = []
        j = 0
        for si, stg in enumerate(self.arch.stages):
            for b in range(cfg.d[si]):
                plan.append((j + b, aw(stg["width"]), cfg.e[j + b], cfg.k[j + b]))
            j += max(stg["depths"])
        return plan

    # --- forward ---------------------------------------------------------------------------
    def forward(self, x):
        """x: [N, 3, r, r], already at the active resolution and normalised."""
        a = self.arch.d
        cfg = self.active
        aw = lambda c: self.arch.active_width(c, cfg.w)  # noqa: E731
        st, fb, hd = a["stem"], a["first_block"], a["head"]
        c0 = aw(st["out"])
        x = F.conv2d(x, self.stem.conv.weight[:c0], None, st["stride"], st["kernel"] // 2)
        x = act_fn(st["act"])(self.stem.bn(x))

        c1 = aw(fb["out"])
        y = F.conv2d(x, self.first.dw.weight[:c0], None, fb["stride"], fb["kernel"] // 2, 1, c0)
        y = act_fn(fb["act"])(self.first.dw_bn(y))
        y = self.first.proj_bn(F.conv2d(y, self.first.proj.weight[:c1, :c0]))
        if fb["stride"] == 1 and st["out"] == fb["out"]:
            y = y + x
        x = y

        for j, cout, e, k in self.active_plan(cfg):
            x = self.blocks[j](x, cout, e, k, self.arch)

        fe, fm = aw(hd["final_expand"]), aw(hd["feature_mix"])
        act = act_fn(hd["act"])
        x = F.conv2d(x, self.head.expand.weight[:fe, :x.shape[1]])
        x = act(self.head.expand_bn(x))
        x = x.mean((2, 3), keepdim=True)
        x = act(F.conv2d(x, self.head.mix.weight[:fm, :fe]))
        x = torch.flatten(x, 1)
        if self.dropout > 0:
            x = F.dropout(x, self.dropout, self.training)
        return F.linear(x, self.head.classifier.weight[:, :fm], self.head.classifier.bias)

    # --- BN calibration ---------------------------------------------------------------------
    def bn_layers(self):
        return [m for m in self.modules() if isinstance(m, DynBN)]

    @torch.no_grad()
    def calibrate_bn(self, batches):
        """Recompute BN running statistics of the active sub-network as the plain average
        over `batches` (iterable of input tensors already at the active resolution)."""
        was_training = self.training
        self.train()
        for m in self.bn_layers():
            m.running_mean.zero_()
            m.running_var.fill_(1.0)
            m.calibrating = True
            m.calib_batches = 0
        try:
            for xb in batches:
                self(xb)
        finally:
            for m in self.bn_layers():
                m.calibrating = False
            self.train(was_training)


def randomize_(model, seed=None):
    """Random BN statistics and affine terms, biases and perturbed kernel-transform matrices
    on top of the default initialisation, in place, so that nothing folds away in a parity
    check or a benchmark on an untrained model; from torch's generator as it stands, seeded
    first when seed is given. Returns the model."""
    if seed is not None:
        torch.manual_seed(seed)
    with torch.no_grad():
        for name, t in model.state_dict().items():
            if "running_var" in name:
                t.uniform_(0.5, 2.0)
            elif "running_mean" in name or name.endswith("bn.bias"):
                t.normal_(0.0, 0.1)
            elif name.endswith("bn.weight"):
                t.uniform_(0.5, 1.5)
            elif name.endswith("_matrix"):
                t.add_(0.05 * torch.randn_like(t))
            elif name.endswith(".bias"):
                t.normal_(0.0, 0.1)
    return model


# --- analytic cost -----------------------------------------------------------------------------
def count_macs(arch, cfg):
    """Multiply-accumulates of one inference of a sub-network (convolutions, SE, head)."""
    a = arch.d
    aw = lambda c: arch.active_width(c, cfg.w)  # noqa: E731
    st, fb, hd = a["stem"], a["first_block"], a["head"]
    h = cfg.r
    c0 = aw(st["out"])
    h = conv_out(h, st["kernel"], st["stride"])
    macs = c0 * 3 * st["kernel"] ** 2 * h * h
    h = conv_out(h, fb["kernel"], fb["stride"])
    c1 = aw(fb["out"])
    macs += c0 * fb["kernel"] ** 2 * h * h + c1 * c0 * h * h
    cin = c1
    infos = arch.blocks()
    j = 0
    for si, stg in enumerate(arch.stages):
        cout = aw(stg["width"])
        for b in range(cfg.d[si]):
            info = infos[j + b]
            k, e = cfg.k[j + b], cfg.e[j + b]
            mid = arch.mid_channels(cin, e)
            macs += cin * mid * h * h
            h = conv_out(h, k, info.stride)
            macs += mid * k * k * h * h
            if info.se:
                macs += 2 * mid * arch.se_channels(mid)
            macs += mid * cout * h * h
            cin = cout
        j += max(stg["depths"])
    fe, fm = aw(hd["final_expand"]), aw(hd["feature_mix"])
    macs += cin * fe * h * h + fe * fm + fm * a["num_classes"]
    return macs
