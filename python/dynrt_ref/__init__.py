"""dynrt_ref: PyTorch reference of the dynrt OFA-MobileNetV3 super-network (docs/formats.md).

The module layout mirrors the dynrt tensor names, so `model.state_dict()` keys are the
dynrt tensor names (see `names.dynrt_tensor_specs`).
"""
from .arch import Arch, make_divisible, cifar_arch, imagenet_arch  # noqa: F401
from .config import SubnetConfig, fnv1a64  # noqa: F401
from .model import DynamicMBV3  # noqa: F401
from .safetensors_io import (save_safetensors, load_safetensors, export_dynrt,  # noqa: F401
                             load_dynrt)
