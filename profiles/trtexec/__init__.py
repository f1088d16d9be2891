"""Readers of every trtexec artifact a user has, each raising `ProfileError` on bad input.

- `read_export_profile`: ``--exportProfile`` JSON (TRT 7.x-10.x key sets, unescaped names).
- `read_dump_profile` / `read_performance_summary`: the ``--dumpProfile`` table (both column
  layouts) and the performance summary (TRT 7 blocks, 8.0+ lines) of a log.
- `read_layer_info`: ``--exportLayerInfo`` JSON (names-only or detailed, TRT 10 Metadata).
- `read_build_log`: DLA/GPU placement, fallback reasons and subgraph limits of a build log.
- `parse_engine_name`: fused engine names back to the source layers.

``parse_*`` variants take text; ``read_*`` take a path. Format notes:
``docs/trtexec_formats.md``.
"""

from profiles.trtexec.build_log import (
    BuildLog,
    Fallback,
    SubgraphLimitHit,
    parse_build_log,
    read_build_log,
)
from profiles.trtexec.common import TrtVersion
from profiles.trtexec.dump_profile import (
    DumpProfile,
    DumpRow,
    LatencyStats,
    PerformanceSummary,
    parse_dump_profile,
    parse_performance_summary,
    read_dump_profile,
    read_performance_summary,
)
from profiles.trtexec.export_profile import (
    NOISY_COUNT,
    ExportProfile,
    ProfileRow,
    format_export_profile,
    parse_export_profile,
    read_export_profile,
)
from profiles.trtexec.layer_info import (
    LayerInfo,
    LayerInfoEntry,
    TensorInfo,
    check_profile_matches,
    parse_layer_info,
    read_layer_info,
    split_metadata,
)
from profiles.trtexec.names import (
    EngineLayerName,
    RowKind,
    expand_source_layers,
    parse_engine_name,
    split_fused,
)

__all__ = [
    "NOISY_COUNT",
    "BuildLog",
    "DumpProfile",
    "DumpRow",
    "EngineLayerName",
    "ExportProfile",
    "Fallback",
    "LatencyStats",
    "LayerInfo",
    "LayerInfoEntry",
    "PerformanceSummary",
    "ProfileRow",
    "RowKind",
    "SubgraphLimitHit",
    "TensorInfo",
    "TrtVersion",
    "check_profile_matches",
    "expand_source_layers",
    "format_export_profile",
    "parse_build_log",
    "parse_dump_profile",
    "parse_engine_name",
    "parse_export_profile",
    "parse_layer_info",
    "parse_performance_summary",
    "read_build_log",
    "read_dump_profile",
    "read_export_profile",
    "read_layer_info",
    "read_performance_summary",
    "split_fused",
    "split_metadata",
]
