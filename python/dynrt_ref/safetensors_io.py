"""safetensors reader/writer in pure Python, and the dynrt model export/load on top of it.

Layout (formats.md §1): u64 little-endian header length N, N bytes of JSON header (padded with
spaces so the data section starts 8-byte aligned), then raw little-endian tensor data.
"""
import json
import os
import struct

import numpy as np
import torch

from .arch import Arch

_DTYPES = {"F32": np.float32, "F64": np.float64, "F16": np.float16, "I64": np.int64,
           "I32": np.int32, "U8": np.uint8}


def save_safetensors(path, tensors, metadata=None):
    """tensors: ordered dict name -> array-like (written as F32). Written to path.tmp and
    renamed, so a reader never sees a half-written file."""
    header = {}
    if metadata:
        header["__metadata__"] = {k: str(v) for k, v in metadata.items()}
    blobs = []
    off = 0
    for name, t in tensors.items():
        if isinstance(t, torch.Tensor):
            t = t.detach().cpu().to(torch.float32).contiguous().numpy()
        a = np.ascontiguousarray(np.asarray(t, dtype="<f4"))
        b = a.tobytes()
        header[name] = {"dtype": "F32", "shape": list(a.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * ((8 - (8 + len(h)) % 8) % 8)
    tmp = str(path) + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def load_safetensors(path):
    """Returns (dict name -> numpy array, metadata dict). Validates offsets and shapes."""
    with open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 8:
        raise ValueError("%s: file too short" % path)
    (n,) = struct.unpack("<Q", raw[:8])
    if n > len(raw) - 8 or n > 16 << 20:
        raise ValueError("%s: header length %d does not fit the file" % (path, n))
    header = json.loads(raw[8:8 + n].decode("utf-8"))
    data = memoryview(raw)[8 + n:]
    meta = header.pop("__metadata__", {}) or {}
    out = {}
    spans = []
    for name, info in header.items():
        dt = _DTYPES.get(info["dtype"])
        if dt is None:
            raise ValueError("%s: tensor %r has unsupported dtype %s" % (path, name, info["dtype"]))
        b, e = info["data_offsets"]
        count = int(np.prod(info["shape"])) if info["shape"] else 1
        if not (0 <= b <= e <= len(data)) or e - b != count * np.dtype(dt).itemsize:
            raise ValueError("%s: tensor %r has bad offsets %s" % (path, name, [b, e]))
        spans.append((b, e, name))
        out[name] = np.frombuffer(data[b:e], dtype=np.dtype(dt).newbyteorder("<")).reshape(info["shape"]).copy()
    spans.sort()
    for (b0, e0, n0), (b1, e1, n1) in zip(spans, spans[1:]):
        if b1 < e0:
            raise ValueError("%s: tensors %r and %r overlap" % (path, n0, n1))
    return out, meta


def export_dynrt(model, path):
    """Write the model's weights and architecture as a dynrt model file."""
    from .names import dynrt_tensor_specs, state_dict_to_dynrt
    tensors = state_dict_to_dynrt(model.state_dict())
    specs = dynrt_tensor_specs(model.arch)
    # refuse to write anything the engine would refuse to read
    if set(tensors) != set(specs):
        raise ValueError("export: tensor names differ from the spec: missing %s, extra %s" % (
            sorted(set(specs) - set(tensors)), sorted(set(tensors) - set(specs))))
    for name, shape in specs.items():
        if list(tensors[name].shape) != list(shape):
            raise ValueError("export: %s has shape %s, spec says %s" % (name, list(tensors[name].shape), shape))
    ordered = {name: tensors[name] for name in specs}
    save_safetensors(path, ordered, {"dynrt.format": "1", "dynrt.arch": model.arch.to_json()})


def load_dynrt(path, dtype=torch.float32):
    """Read a dynrt model file into a DynamicMBV3 (strict: names and shapes must match)."""
    from .model import DynamicMBV3
    from .names import dynrt_tensor_specs
    tensors, meta = load_safetensors(path)
    if meta.get("dynrt.format") != "1":
        raise ValueError("%s: dynrt.format is %r, expected \"1\"" % (path, meta.get("dynrt.format")))
    arch = Arch.from_json(meta["dynrt.arch"])
    specs = dynrt_tensor_specs(arch)
    if set(tensors) != set(specs):
        raise ValueError("%s: missing %s, extra %s" % (path, sorted(set(specs) - set(tensors)),
                                                     sorted(set(tensors) - set(specs))))
    model = DynamicMBV3(arch)
    sd = {k: torch.from_numpy(v) for k, v in tensors.items()}
    model.load_state_dict(sd, strict=True)
    return model.to(dtype)
