"""The one writer of every file and folder layerswap writes.

- `check_file_target` / `check_folder_target` look at an output path BEFORE the work starts
  (a folder where a file is expected, a file where a folder is expected, a parent that cannot
  be created or written), so a long run never loses its result at the end.
- `atomic_write_bytes` / `atomic_write_text` write a temp file in the target's folder and
  rename it into place: a crash never leaves a half-written table, plan or figure.
- `staged_folder` fills a folder (an export, the medical example) in a temporary sibling and
  moves it into place only when complete; on an error or Ctrl-C it removes the sibling, so
  nothing half-written is left, and says so (`StagedFolder.left`).

Every failure is a `WriteError` naming the path and the reason (one line in the CLI, exit 1).
The module lives in ``runtime/`` because the runtime ships alone and must import nothing else
of ours; ``profiles.fileio`` re-exports it for the rest of the package.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from runtime.errors import LayerswapRuntimeError

StrPath = str | os.PathLike[str]


class WriteError(LayerswapRuntimeError):
    """An output path cannot be written; the message names the path and the reason."""

    def __init__(self, path: StrPath, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{path}: cannot write: {reason}")


def reason_of(exc: OSError) -> str:
    """The OS's words for ``exc`` (``Permission denied``, ``Is a directory``...)."""
    return exc.strerror or exc.__class__.__name__


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _nearest_existing(path: Path) -> Path:
    probe = path
    while not probe.exists() and not probe.is_symlink():
        if probe.parent == probe:
            break
        probe = probe.parent
    return probe


def _check_parent(path: Path, what: str) -> None:
    """The folders above ``path`` exist or can be created, and the nearest one is writable."""
    anchor = _nearest_existing(path.parent)
    if not anchor.is_dir():
        raise WriteError(path, f"{anchor} is a file, not a folder ({what} needs a folder "
                               "there)")
    try:  # a real probe: os.access says yes to root on a read-only mount's files, not this
        fd, probe = tempfile.mkstemp(prefix=".layerswap-probe-", dir=anchor)
    except OSError as exc:
        raise WriteError(path, f"{anchor} is not writable ({reason_of(exc)}); choose another "
                               f"place for {what}") from None
    os.close(fd)
    os.unlink(probe)


def check_file_target(path: StrPath, what: str = "the output file") -> Path:
    """Refuse, before any work, an output file path that cannot be written: an existing
    folder, a parent that is a file, a read-only place. Returns the path."""
    target = Path(path)
    if str(path) == "" or target.name in ("", ".", ".."):
        raise WriteError(path, f"{what} must be a file path")
    if target.is_dir():
        raise WriteError(target, f"is a folder; {what} must be a file path (e.g. "
                                 f"{target / 'NAME'})")
    _check_parent(target, what)
    return target


def check_folder_target(path: StrPath, what: str = "the output folder") -> Path:
    """Refuse, before any work, an output folder path that cannot be filled: an existing
    file, a parent that is a file, a read-only place. Returns the path."""
    target = Path(path)
    if str(path) == "":
        raise WriteError(path, f"{what} must name a folder")
    if target.exists() and not target.is_dir():
        raise WriteError(target, f"is a file; {what} must be a folder (a new or an existing "
                                 "one)")
    if target.is_dir():
        _check_parent(target / ".probe", what)
    else:
        _check_parent(target, what)
    return target


def atomic_write_bytes(path: StrPath, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically, with a normal file's mode; returns the path.
    Any OSError becomes a `WriteError` naming ``path``."""
    target = Path(path)
    if target.is_dir():
        raise WriteError(target, "is a folder, a file was expected")
    tmp: str | None = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600
        os.replace(tmp, target)
    except OSError as exc:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        raise WriteError(target, reason_of(exc)) from exc
    except BaseException:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        raise
    return target


def atomic_write_text(path: StrPath, text: str) -> Path:
    """Write UTF-8 ``text`` atomically (no newline translation)."""
    return atomic_write_bytes(path, text.encode("utf-8"))


class StagedFolder:
    """What `staged_folder` yields: ``path`` is where to write now (the temporary sibling);
    ``target`` is where it goes; ``left`` says, after an error, what was left behind."""

    def __init__(self, target: Path, path: Path) -> None:
        self.target = target
        self.path = path
        self.left = ""


@contextmanager
def staged_folder(target: StrPath, what: str = "the output folder"
                  ) -> Iterator[StagedFolder]:
    """Fill ``target`` through a temporary sibling (``.NAME.partial-XXXX``): on success its
    entries are moved into ``target`` (created, or updated entry by entry: a file or
    sub-folder of the same name is replaced, others are kept); on any error or interrupt the
    sibling is removed and ``StagedFolder.left`` says so. Paths written inside refer to
    ``stage.path``; keep them relative so they stay true after the move."""
    final = check_folder_target(target, what)
    final.parent.mkdir(parents=True, exist_ok=True)
    try:
        tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.partial-", dir=final.parent))
    except OSError as exc:
        raise WriteError(final.parent, reason_of(exc)) from exc
    stage = StagedFolder(final, tmp)
    try:
        yield stage
        _publish(tmp, final)
    except BaseException as exc:
        _retarget(exc, tmp, final)
        shutil.rmtree(tmp, ignore_errors=True)
        stage.left = (f"nothing written to {final} (the unfinished files of {what} were "
                      "removed)" if not tmp.exists() else f"unfinished files of {what} left in "
                      f"{tmp}")
        exc.add_note(stage.left)  # the CLI prints notes after its one error line
        raise


def _retarget(exc: BaseException, tmp: Path, final: Path) -> None:
    """An error raised while filling the staging sibling names the folder the user asked
    for (``out/models/x.onnx``, not ``.out.partial-k3j2/models/x.onnx``)."""
    old, new = str(tmp), str(final)
    if any(isinstance(a, str) and old in a for a in exc.args):
        exc.args = tuple(a.replace(old, new) if isinstance(a, str) else a for a in exc.args)


def _publish(tmp: Path, final: Path) -> None:
    """Move the staged folder's entries into ``final``."""
    try:
        if not final.exists():
            os.replace(tmp, final)
            return
        if not any(final.iterdir()):
            final.rmdir()
            os.replace(tmp, final)
            return
        for entry in sorted(tmp.iterdir()):
            dest = final / entry.name
            if dest.is_dir() and not dest.is_symlink() and entry.is_dir():
                old = Path(tempfile.mkdtemp(prefix=f".{entry.name}.old-", dir=final))
                os.replace(dest, old / entry.name)
                os.replace(entry, dest)
                shutil.rmtree(old, ignore_errors=True)
            elif dest.is_dir() and not dest.is_symlink():
                shutil.rmtree(dest)
                os.replace(entry, dest)
            else:
                os.replace(entry, dest)
        tmp.rmdir()
    except OSError as exc:
        raise WriteError(final, f"{reason_of(exc)} while moving the finished files in from "
                                f"{tmp}") from exc


__all__ = ["StagedFolder", "WriteError", "atomic_write_bytes", "atomic_write_text",
           "check_file_target", "check_folder_target", "reason_of", "staged_folder"]
