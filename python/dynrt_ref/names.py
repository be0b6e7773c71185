"""dynrt tensor names and shapes (formats.md §1.2) and the state_dict -> dynrt mapping."""
from collections import OrderedDict


def _bn(out, prefix, c):
    for s in ("weight", "bias", "running_mean", "running_var"):
        out["%s.%s" % (prefix, s)] = [c]


def dynrt_tensor_specs(arch):
    """OrderedDict name -> shape of every tensor a dynrt file of this arch holds."""
    a = arch.d
    st, fb, hd = a["stem"], a["first_block"], a["head"]
    out = OrderedDict()
    out["stem.conv.weight"] = [st["out"], 3, st["kernel"], st["kernel"]]
    _bn(out, "stem.bn", st["out"])
    out["first.dw.weight"] = [st["out"], 1, fb["kernel"], fb["kernel"]]
    _bn(out, "first.dw_bn", st["out"])
    out["first.proj.weight"] = [fb["out"], st["out"], 1, 1]
    _bn(out, "first.proj_bn", fb["out"])
    kmax = arch.kmax
    for b in arch.blocks():
        p = "blocks.%d." % b.j
        out[p + "expand.weight"] = [b.mid_max, b.cin_max, 1, 1]
        _bn(out, p + "expand_bn", b.mid_max)
        out[p + "dw.weight"] = [b.mid_max, 1, kmax, kmax]
        for s, t in arch.kernel_steps():
            out[p + "dw.%dto%d_matrix" % (s, t)] = [t * t, t * t]
        _bn(out, p + "dw_bn", b.mid_max)
        if b.se:
            out[p + "se.reduce.weight"] = [b.se_max, b.mid_max, 1, 1]
            out[p + "se.reduce.bias"] = [b.se_max]
            out[p + "se.expand.weight"] = [b.mid_max, b.se_max, 1, 1]
            out[p + "se.expand.bias"] = [b.mid_max]
        out[p + "proj.weight"] = [b.cout_max, b.mid_max, 1, 1]
        _bn(out, p + "proj_bn", b.cout_max)
    last = a["stages"][-1]["width"]
    out["head.expand.weight"] = [hd["final_expand"], last, 1, 1]
    _bn(out, "head.expand_bn", hd["final_expand"])
    out["head.mix.weight"] = [hd["feature_mix"], hd["final_expand"], 1, 1]
    out["head.classifier.weight"] = [a["num_classes"], hd["feature_mix"]]
    out["head.classifier.bias"] = [a["num_classes"]]
    return out


def state_dict_to_dynrt(sd):
    """DynamicMBV3.state_dict() -> dynrt tensors. The module tree is named after the dynrt
    tensors, so the mapping is the identity (BN counters, if any, are dropped)."""
    return OrderedDict((k, v) for k, v in sd.items() if not k.endswith("num_batches_tracked"))
