"""Shared helpers of the trtexec readers: loading text safely, numbers, versions, log prefixes.

Every reader funnels its input through `load_text` (path or text in, checked text out) so
that unreadable, empty, binary and non-UTF-8 inputs all give the same one-line
`ProfileError` naming the file. Times go through `check_time`, which is the single place
where "a negative, NaN or infinite time never becomes a number" is enforced.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

from profiles.errors import ProfileError

PathLike = str | os.PathLike[str]

_BINARY_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1b\x7f]")
"""Control characters that never occur in trtexec text output (``\\x1e``/``\\x1f`` may: TRT 10
metadata separators; tab, newline, carriage return, form feed are fine)."""


def load_text(path: PathLike, *, what: str) -> tuple[str, str]:
    """Read ``path`` as UTF-8 text for a reader of ``what``; returns ``(text, source)``."""
    p = Path(path)
    source = str(p)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        reason = exc.strerror or exc.__class__.__name__
        raise ProfileError(f"cannot read the {what} ({reason}); check the path",
                           source=source) from exc
    return decode_bytes(raw, source=source, what=what), source


def decode_bytes(raw: bytes, *, source: str, what: str) -> str:
    """Decode trtexec output bytes; binary or non-UTF-8 input is a `ProfileError`."""
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ProfileError(
            f"not UTF-8 text (undecodable byte at offset {exc.start}); a {what} is a text "
            "file written by trtexec: pass the file trtexec wrote, not an engine or archive",
            source=source, entry=f"byte {exc.start}") from None
    return check_text(text, source=source, what=what)


def check_text(text: str, *, source: str, what: str) -> str:
    """Reject empty or binary-looking text (returns it unchanged otherwise)."""
    if not isinstance(text, str):
        raise ProfileError(f"expected the {what} as text, got {type(text).__name__}",
                           source=source)
    if not text.strip():
        raise ProfileError(f"the {what} is empty; re-run trtexec and keep its output",
                           source=source, entry="line 1")
    bad = _BINARY_CONTROL.search(text)
    if bad is not None:
        line = text.count("\n", 0, bad.start()) + 1
        raise ProfileError(
            f"contains the control byte {bad.group()!r}: this looks like binary data, not a "
            f"{what} written by trtexec", source=source, entry=f"line {line}")
    return text


def check_time(value: object, *, field: str, source: str, entry: str,
               allow_none: bool = False) -> float | None:
    """A finite, non-negative time in ms, or `ProfileError` naming ``field`` and ``entry``."""
    if value is None:
        if allow_none:
            return None
        raise ProfileError(f"'{field}' is missing", source=source, entry=entry)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ProfileError(f"'{field}' is not a number ({value!r})", source=source, entry=entry)
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if math.isnan(number) or math.isinf(number):
        raise ProfileError(
            f"'{field}' is {number}; a time must be a finite measurement, re-run the profile",
            source=source, entry=entry)
    if number < 0:
        raise ProfileError(f"'{field}' is negative ({number}); a time cannot be negative",
                           source=source, entry=entry)
    return number


_NUMBER_TOKEN = re.compile(r"^[+-]?(?:nan|inf(?:inity)?|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)$",
                           re.IGNORECASE)


def parse_number(token: str, *, field: str, source: str, entry: str) -> float:
    """Parse a number as trtexec prints it (``0``, ``1e-05``, ``nan``, ``-nan``, ``inf``)."""
    text = token.strip()
    if not _NUMBER_TOKEN.match(text):
        raise ProfileError(f"'{field}' is not a number ({text!r})", source=source, entry=entry)
    return float(text)


# ---------------------------------------------------------------------------- versions
@dataclass(frozen=True, order=True)
class TrtVersion:
    """A TensorRT version, e.g. ``TrtVersion(8, 5, 2)``."""

    major: int
    minor: int
    patch: int = 0

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.patch}"

    @classmethod
    def from_code(cls, code: str) -> TrtVersion:
        """Decode the RUNNING-line code: ``8502`` -> 8.5.2, ``8410`` -> 8.4.10,
        ``101601`` -> 10.16.1 (MAJOR*1000+MINOR*100+PATCH up to 9, MAJOR*10000+... from 10)."""
        n = int(code)
        if n >= 100000:
            return cls(n // 10000, (n // 100) % 100, n % 100)
        return cls(n // 1000, (n // 100) % 10, n % 100)

    @classmethod
    def parse(cls, text: str) -> TrtVersion | None:
        """Parse ``8.5.2``, ``8.6.1.6``, ``10.3`` or ``v8502``; None when it is not a version."""
        s = text.strip()
        m = re.fullmatch(r"v?(\d{4,6})", s)
        if m:
            return cls.from_code(m.group(1))
        m = re.fullmatch(r"(\d+)\.(\d+)(?:\.(\d+))?(?:\.\d+)*", s)
        if m:
            return cls(int(m.group(1)), int(m.group(2)), int(m.group(3) or 0))
        return None


_RUNNING = re.compile(r"&&&& (?:RUNNING|PASSED|FAILED) TensorRT\.trtexec(?: \[TensorRT v(\d+)\])?")
_VERSION_LINE = re.compile(r"TensorRT version: (\d+\.\d+(?:\.\d+)*)")


def detect_version(lines: list[str]) -> tuple[TrtVersion | None, str | None]:
    """Find the TensorRT version of a log: ``[TensorRT vNNNN]`` on the RUNNING line, else the
    ``TensorRT version: X.Y.Z`` info line. A RUNNING line without a version means TRT 7.x
    (returned as hint ``'7.x'`` with version None)."""
    hint: str | None = None
    for line in lines:
        m = _RUNNING.search(line)
        if m:
            if m.group(1):
                return TrtVersion.from_code(m.group(1)), None
            hint = "7.x"
        m2 = _VERSION_LINE.search(line)
        if m2:
            version = TrtVersion.parse(m2.group(1))
            if version is not None:
                return version, None
    return None, hint


# ---------------------------------------------------------------------------- log lines
_PREFIX = re.compile(
    r"^(?:\[\d\d/\d\d/\d{4}-\d\d:\d\d:\d\d\]\s?)?"   # [MM/DD/YYYY-HH:MM:SS]
    r"(?:(?:\[(?P<sev>[IWEVF])\]|\[TRT\])\s?)*"     # [I] [TRT] or [TRT] [I]
    r"(?:(?P<ds>INFO|WARNING|ERROR|VERBOSE): (?:\[TRT\]: ?)?)?"  # DeepStream 'INFO: [TRT]: '
)
_DS_SEVERITY = {"INFO": "I", "WARNING": "W", "ERROR": "E", "VERBOSE": "V"}


@dataclass(frozen=True)
class LogLine:
    """One log line with its prefix removed: ``severity`` (I/W/E/V/F or None) and text."""

    number: int
    severity: str | None
    text: str
    raw: str


def split_log(text: str) -> list[LogLine]:
    """Strip the ``[date] [I] [TRT] `` prefixes (both orders, DeepStream ``INFO: [TRT]:``)."""
    out: list[LogLine] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        m = _PREFIX.match(raw)
        sev = None
        body = raw
        if m and m.end() > 0:
            sev = m.group("sev") or (_DS_SEVERITY[m.group("ds")] if m.group("ds") else None)
            body = raw[m.end():]
        out.append(LogLine(number, sev, body.rstrip("\r"), raw))
    return out


def short(text: str, limit: int = 80) -> str:
    """Shorten a (possibly huge) name for an error message."""
    return text if len(text) <= limit else text[: limit - 3] + "..."
