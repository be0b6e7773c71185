"""Architecture description of the dynrt ofa-mbv3 family (docs/formats.md §1.1).

`Arch` wraps the architecture JSON and derives the per-block maximum shapes that the
tensor table of §1.2 is written in terms of.
"""
import copy
import json

CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer",
                   "dog", "frog", "horse", "ship", "truck"]


def make_divisible(v, divisor=8):
    """OFA's make_divisible with min_value = divisor (formats.md §1.1)."""
    new_v = max(divisor, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


class BlockInfo:
    """Static facts about one stage block (global index j)."""

    def __init__(self, j, stage, index_in_stage, cin_max, cout_max, stride, act, se,
                 mid_max, se_max):
        self.j = j
        self.stage = stage
        self.index_in_stage = index_in_stage
        self.cin_max = cin_max
        self.cout_max = cout_max
        self.stride = stride
        self.act = act
        self.se = se
        self.mid_max = mid_max
        self.se_max = se_max

    @property
    def residual(self):
        # decided on the file (maximum) widths, as OFA builds its shortcut modules;
        # Arch.validate() guarantees every width multiplier gives the same answer
        return self.stride == 1 and self.cin_max == self.cout_max


class Arch:
    """Architecture JSON plus derived quantities. `d` is the plain JSON dict."""

    def __init__(self, d):
        self.d = copy.deepcopy(d)
        self.validate()

    # --- JSON -----------------------------------------------------------------------
    @classmethod
    def from_json(cls, s):
        return cls(json.loads(s))

    def to_json(self):
        # compact and deterministic, so identical architectures give identical files
        return json.dumps(self.d, separators=(",", ":"))

    # --- accessors ------------------------------------------------------------------
    def __getitem__(self, k):
        return self.d[k]

    @property
    def div(self):
        return self.d.get("channel_divisor", 8)

    @property
    def kernel_sizes(self):
        return sorted(self.d["kernel_sizes"])

    @property
    def expand_ratios(self):
        return sorted(self.d["expand_ratios"])

    @property
    def width_mults(self):
        return sorted(self.d["width_mults"])

    @property
    def resolutions(self):
        return sorted(self.d["input"]["resolutions"])

    @property
    def kmax(self):
        return max(self.d["kernel_sizes"])

    @property
    def stages(self):
        return self.d["stages"]

    @property
    def n_blocks(self):
        return sum(max(s["depths"]) for s in self.stages)

    def kernel_steps(self):
        """Consecutive (larger, smaller) pairs, largest first: OFA's 7to5, 5to3 chain."""
        ks = sorted(set(self.d["kernel_sizes"]), reverse=True)
        if not self.d.get("kernel_transform", False):
            return []
        return [(ks[i], ks[i + 1]) for i in range(len(ks) - 1)]

    def active_width(self, c, w):
        """Active channel count of a layer whose file width is c under multiplier w."""
        if w == 1.0:
            return c
        return make_divisible(c * w, self.div)

    def mid_channels(self, cin, e):
        return make_divisible(round(cin * e), self.div)

    def se_channels(self, mid):
        return make_divisible(mid // self.d.get("se_reduction", 4), self.div)

    def blocks(self):
        """BlockInfo for every stage block in global order."""
        out = []
        cin = self.d["first_block"]["out"]
        j = 0
        emax = max(self.d["expand_ratios"])
        for si, st in enumerate(self.stages):
            for b in range(max(st["depths"])):
                mid_max = self.mid_channels(cin, emax)
                se_max = self.se_channels(mid_max) if st["se"] else 0
                out.append(BlockInfo(j, si, b, cin, st["width"], st["stride"] if b == 0 else 1,
                                     st["act"], st["se"], mid_max, se_max))
                cin = st["width"]
                j += 1
        return out

    def validate(self):
        d = self.d
        if d.get("version") != 1 or d.get("family") != "ofa-mbv3":
            raise ValueError("arch: unsupported version/family")
        for k in ("kernel_sizes", "expand_ratios", "width_mults"):
            if not d[k]:
                raise ValueError("arch: %s empty" % k)
        for k in d["kernel_sizes"]:
            if k % 2 != 1:
                raise ValueError("arch: kernel size %d is not odd" % k)
        # A stride-1 block whose file widths differ could get equal active widths under a
        # width multiplier (e.g. 16 and 20 at w=0.5 both give 8); formats.md does not say
        # whether the shortcut then appears, so such architectures are refused.
        widths = [d["stem"]["out"], d["first_block"]["out"]] + [s["width"] for s in self.stages]
        strides = [d["first_block"]["stride"]] + [s["stride"] for s in self.stages]
        for w in d["width_mults"]:
            for i in range(len(strides)):
                a, b = widths[i], widths[i + 1]
                if strides[i] == 1 and (a == b) != (self.active_width(a, w) == self.active_width(b, w)):
                    raise ValueError("arch: widths %d->%d collide at width multiplier %g" % (a, b, w))


def _base(name, num_classes, class_names, resolutions, resize_ratio, mean, std):
    return {
        "version": 1,
        "family": "ofa-mbv3",
        "name": name,
        "num_classes": num_classes,
        "class_names": class_names,
        "input": {"resolutions": resolutions, "resize_ratio": resize_ratio,
                  "mean": mean, "std": std},
        "bn_eps": 1e-5,
        "channel_divisor": 8,
        "se_reduction": 4,
    }


def imagenet_arch(class_names=None):
    """ofa_mbv3_d234_e346_k357_w1.2 exactly as in formats.md §1.1."""
    d = _base("ofa_mbv3_d234_e346_k357_w1.2", 1000,
              class_names if class_names is not None else ["class_%d" % i for i in range(1000)],
              list(range(160, 225, 4)), 0.875, [0.485, 0.456, 0.406], [0.229, 0.224, 0.225])
    d.update({
        "stem": {"out": 24, "kernel": 3, "stride": 2, "act": "hswish"},
        "first_block": {"out": 24, "kernel": 3, "stride": 1, "act": "relu"},
        "stages": [
            {"width": 32, "depths": [2, 3, 4], "stride": 2, "act": "relu", "se": False},
            {"width": 48, "depths": [2, 3, 4], "stride": 2, "act": "relu", "se": True},
            {"width": 96, "depths": [2, 3, 4], "stride": 2, "act": "hswish", "se": False},
            {"width": 136, "depths": [2, 3, 4], "stride": 1, "act": "hswish", "se": True},
            {"width": 192, "depths": [2, 3, 4], "stride": 2, "act": "hswish", "se": True},
        ],
        "kernel_sizes": [3, 5, 7],
        "expand_ratios": [3, 4, 6],
        "width_mults": [1.0],
        "kernel_transform": True,
        "head": {"final_expand": 1152, "feature_mix": 1536, "act": "hswish"},
    })
    return Arch(d)


def cifar_arch(name, widths=(16, 16, 24, 40, 80, 112, 160), strides=(1, 1, 2, 2, 1, 2),
               depths=(2, 3, 4), kernel_sizes=(3, 5, 7), expand_ratios=(3, 4, 6),
               resolutions=(24, 28, 32), width_mults=(1.0,), head=(960, 1280),
               stem_stride=1, se=(False, True, False, True, True),
               acts=("relu", "relu", "hswish", "hswish", "hswish")):
    """CIFAR-10 super-network of the ofa-mbv3 family.

    widths: stem, first block, then the 5 stage widths; strides: first block then stages.
    """
    d = _base(name, 10, CIFAR10_CLASSES, list(resolutions), 1.0,
              [0.4914, 0.4822, 0.4465], [0.2470, 0.2435, 0.2616])
    d.update({
        "stem": {"out": widths[0], "kernel": 3, "stride": stem_stride, "act": "hswish"},
        "first_block": {"out": widths[1], "kernel": 3, "stride": strides[0], "act": "relu"},
        "stages": [{"width": w, "depths": list(depths), "stride": s, "act": a, "se": e}
                   for w, s, a, e in zip(widths[2:], strides[1:], acts, se)],
        "kernel_sizes": list(kernel_sizes),
        "expand_ratios": list(expand_ratios),
        "width_mults": list(width_mults),
        "kernel_transform": True,
        "head": {"final_expand": head[0], "feature_mix": head[1], "act": "hswish"},
    })
    return Arch(d)


def conv_out(size, k, s):
    # pad k//2 on both sides
    return (size + 2 * (k // 2) - k) // s + 1


__all__ = ["Arch", "BlockInfo", "make_divisible", "imagenet_arch", "cifar_arch",
           "CIFAR10_CLASSES", "conv_out"]
