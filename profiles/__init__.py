"""profiles: measurements (trtexec artifacts, sweeps) and ONNX models into cost tables."""

from profiles.costtable import SOURCES, CostTable, GroupCost, load_published
from profiles.errors import LayerswapError, ProfileError

__all__ = [
    "SOURCES",
    "CostTable",
    "GroupCost",
    "LayerswapError",
    "ProfileError",
    "load_published",
]
