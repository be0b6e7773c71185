"""Sub-network configuration strings (docs/formats.md §2): parse, canonical print, 64-bit id,
and sampling of sub-networks."""
import random


def fnv1a64(data):
    """64-bit FNV-1a over bytes (offset basis 0xcbf29ce484222325, prime 0x100000001b3)."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    h = 0xCBF29CE484222325
    for b in data:
        h ^= b
        h = (h * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def fmt_num(v):
    """%g, but always with a decimal point for whole numbers ("1.0", "0.5", "0.75")."""
    s = "%g" % v
    if "." not in s and "e" not in s and "n" not in s:
        s += ".0"
    return s


def _fmt_choice(v):
    # kernel sizes, depths, resolutions and OFA's expand ratios are integers; a fractional
    # expand ratio prints with %g
    return str(int(v)) if float(v).is_integer() else "%g" % v


def _match(v, choices):
    """The choice equal to v within a relative 1e-6 (as the C parser matches w and e)."""
    for c in choices:
        if abs(v - c) <= 1e-6 * abs(c):
            return c
    return None


class SubnetConfig:
    """One sub-network: resolution r, width multiplier w, per-stage depths d and per-block
    kernel sizes k and expand ratios e (all blocks, including inactive ones)."""

    def __init__(self, r, w, d, k, e):
        self.r = int(r)
        self.w = float(w)
        self.d = list(d)
        self.k = list(k)
        self.e = list(e)

    # --- validation / canonical form --------------------------------------------------
    def validate(self, arch):
        if self.r not in arch.resolutions:
            raise ValueError("config: r=%d not in %s" % (self.r, arch.resolutions))
        if _match(self.w, arch.width_mults) is None:
            raise ValueError("config: w=%g not in %s" % (self.w, arch.width_mults))
        if len(self.d) != len(arch.stages):
            raise ValueError("config: d has %d entries, expected %d" % (len(self.d), len(arch.stages)))
        for i, (dv, st) in enumerate(zip(self.d, arch.stages)):
            if dv not in st["depths"]:
                raise ValueError("config: d[%d]=%d not in %s" % (i, dv, st["depths"]))
        nb = arch.n_blocks
        for name, vals, allowed in (("k", self.k, arch.kernel_sizes), ("e", self.e, arch.expand_ratios)):
            if len(vals) != nb:
                raise ValueError("config: %s has %d entries, expected %d" % (name, len(vals), nb))
            for i, v in enumerate(vals):
                if _match(v, allowed) is None:
                    raise ValueError("config: %s[%d]=%s not in %s" % (name, i, v, allowed))
        return self

    def canonical(self, arch):
        """Copy with inactive blocks set to the largest choices (formats.md §2)."""
        k = list(self.k)
        e = list(self.e)
        j = 0
        for dv, st in zip(self.d, arch.stages):
            n = max(st["depths"])
            for b in range(dv, n):
                k[j + b] = max(arch.kernel_sizes)
                e[j + b] = max(arch.expand_ratios)
            j += n
        w = _match(self.w, arch.width_mults)
        e = [_match(v, arch.expand_ratios) for v in e]
        return SubnetConfig(self.r, w, self.d, k, e)

    def to_string(self, arch=None):
        c = self.canonical(arch) if arch is not None else self
        return "r=%d w=%s d=%s k=%s e=%s" % (
            c.r, fmt_num(c.w), ",".join(str(x) for x in c.d),
            ",".join(_fmt_choice(x) for x in c.k), ",".join(_fmt_choice(x) for x in c.e))

    def id(self, arch):
        return fnv1a64(self.to_string(arch))

    @classmethod
    def parse(cls, s, arch):
        fields = {}
        for tok in s.split():
            if "=" not in tok:
                raise ValueError("config: field %r has no '='" % tok)
            key, val = tok.split("=", 1)
            if key not in ("r", "w", "d", "k", "e"):
                raise ValueError("config: unknown field %r" % key)
            if key in fields:
                raise ValueError("config: field %r given twice" % key)
            fields[key] = val
        for key in ("r", "w", "d", "k", "e"):
            if key not in fields:
                raise ValueError("config: field %r missing" % key)

        def num_list(key, conv):
            try:
                return [conv(x) for x in fields[key].split(",")]
            except ValueError:
                raise ValueError("config: bad list %s=%r" % (key, fields[key]))

        def num(x):
            v = float(x)
            return int(v) if v.is_integer() else v

        try:
            r = int(fields["r"])
            w = float(fields["w"])
        except ValueError:
            raise ValueError("config: bad r or w")
        c = cls(r, w, num_list("d", int), num_list("k", int), num_list("e", num))
        return c.validate(arch)

    def __eq__(self, o):
        return (self.r, self.w, self.d, self.k, self.e) == (o.r, o.w, o.d, o.k, o.e)

    def __repr__(self):
        return "SubnetConfig(%r)" % self.to_string()

    # --- sampling -----------------------------------------------------------------------
    @classmethod
    def largest(cls, arch):
        return cls(max(arch.resolutions), max(arch.width_mults),
                   [max(s["depths"]) for s in arch.stages],
                   [max(arch.kernel_sizes)] * arch.n_blocks, [max(arch.expand_ratios)] * arch.n_blocks)

    @classmethod
    def smallest(cls, arch):
        return cls(min(arch.resolutions), min(arch.width_mults),
                   [min(s["depths"]) for s in arch.stages],
                   [min(arch.kernel_sizes)] * arch.n_blocks, [min(arch.expand_ratios)] * arch.n_blocks)

    @classmethod
    def sample(cls, arch, rng=random, elastic=("r", "w", "d", "k", "e"), base=None):
        """Random sub-network; dimensions not in `elastic` are taken from `base`
        (default: the largest)."""
        base = base or cls.largest(arch)
        nb = arch.n_blocks
        r = rng.choice(arch.resolutions) if "r" in elastic else base.r
        w = rng.choice(arch.width_mults) if "w" in elastic else base.w
        d = [rng.choice(s["depths"]) for s in arch.stages] if "d" in elastic else list(base.d)
        k = [rng.choice(arch.kernel_sizes) for _ in range(nb)] if "k" in elastic else list(base.k)
        e = [rng.choice(arch.expand_ratios) for _ in range(nb)] if "e" in elastic else list(base.e)
        return cls(r, w, d, k, e)

    @classmethod
    def smallest_of(cls, arch, elastic, base=None):
        """Smallest sub-network over the elastic dimensions only."""
        base = base or cls.largest(arch)
        s = cls.smallest(arch)
        return cls(s.r if "r" in elastic else base.r, s.w if "w" in elastic else base.w,
                   s.d if "d" in elastic else base.d, s.k if "k" in elastic else base.k,
                   s.e if "e" in elastic else base.e)
