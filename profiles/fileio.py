"""Atomic file writes for profiles/, solvers/, export/ and optimizer/: the one writer lives in
`runtime.fileio` (the runtime ships alone, so it owns it; see there)."""

from __future__ import annotations

from runtime.fileio import (
    WriteError,
    atomic_write_bytes,
    atomic_write_text,
    check_file_target,
    check_folder_target,
    staged_folder,
)

__all__ = ["WriteError", "atomic_write_bytes", "atomic_write_text", "check_file_target",
           "check_folder_target", "staged_folder"]
