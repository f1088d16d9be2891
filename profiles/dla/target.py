"""The DLA target: platform (DLA generation), TensorRT version and precision.

Which DLA a Jetson has and whether a TensorRT release can use it at all decides every rule
after it, so it is parsed once here into a `Target`. Facts and their sources
(docs/dla_rules.md):

- ``xavier-agx`` has DLA 1.0, ``orin-agx`` / ``orin-nx`` have DLA 2.0 [dla-sw FAQ].
- Xavier's last TensorRT is 8.5 (JetPack 5.1); newer releases are Orin-only [log
  AbelHaro/jetson_dla_tutorial model_gn.log, dla_rules.md section 7].
- TensorRT 10.7 was the last 10.x release with DLA; 11.0-11.3 have no DLA; 11.4.0 has DLA on
  Windows on ARM only; 11.4.1 has DLA on Jetson AGX Orin with JetPack 7.2.2+ [doc-11.x].
- Only FP16 and INT8 run on DLA [dla-sw FAQ].
- Loadables (DLA subgraphs) per core: 8 up to TRT 7, 4 per the 8.4 guide, 16 after
  (`loadable_limit_for_trt`) [log], [doc-8.4], [doc-latest].

A target TensorRT cannot build DLA engines for is still a `Target`: ``dla_unavailable`` says
why, and the checker refuses every node with that reason (a report, not an exception). An
unknown platform, precision or a version string that is not a version is a `DlaError`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from profiles.errors import ProfileError


class DlaError(ProfileError):
    """A model or target the DLA checker cannot work on (one line: file, entry, fix)."""


PLATFORMS: dict[str, str] = {"xavier-agx": "1.0", "orin-agx": "2.0", "orin-nx": "2.0"}
PRECISIONS = ("fp16", "int8", "fp32")

_VERSION = re.compile(r"^\s*(\d+)\.(\d+)(?:\.(\d+))?(?:\.\d+)*\s*$")


def loadable_limit_for_trt(version: str | None) -> int:
    """DLA loadables per core by TensorRT version (dla_rules.md section 2).

    TRT <= 7: 8 ("DLA supports only 8 subgraphs per DLA core"); TRT 8.0-8.4: 4 (the 8.4
    guide); later: 16 (current docs). Unknown version: 16.
    """
    if not version:
        return 16
    try:
        parts = [int(p) for p in str(version).split(".")[:2]]
    except ValueError:
        return 16
    major, minor = parts[0], (parts[1] if len(parts) > 1 else 0)
    if major < 8:
        return 8
    if major == 8 and minor <= 4:
        return 4
    return 16


def parse_trt_version(text: str) -> tuple[int, int, int]:
    """``'8.6.2'`` -> (8, 6, 2); ``'10.3'`` -> (10, 3, 0). A major alone is ambiguous (10.x
    has DLA up to 10.7 only), so it is an error that asks for the minor version."""
    m = _VERSION.match(str(text))
    if not m:
        raise DlaError(f"TensorRT version {text!r} is not a version; give MAJOR.MINOR[.PATCH] "
                       "such as 8.5.2, 8.6, 10.3 or 11.4.1", entry="--trt-version")
    return int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)


@dataclass(frozen=True)
class Target:
    """Platform, TensorRT version and precision the rules are checked against."""

    platform: str
    trt_version: str
    precision: str
    dla_version: str
    version: tuple[int, int, int]
    dla_unavailable: str | None = None  # why this TensorRT/platform has no DLA at all
    unavailable_source: str = ""

    @property
    def dla2(self) -> bool:
        """Orin's DLA 2.0 (True) or Xavier's DLA 1.0 (False)."""
        return self.dla_version == "2.0"

    @property
    def xavier(self) -> bool:
        return not self.dla2

    @property
    def trt10(self) -> bool:
        """TensorRT 10 or later: the rule text of the 10.x headers / current docs applies."""
        return self.version >= (10, 0, 0)

    def at_least(self, major: int, minor: int, patch: int = 0) -> bool:
        return self.version >= (major, minor, patch)

    @property
    def loadable_limit(self) -> int:
        return loadable_limit_for_trt(self.trt_version)

    def to_dict(self) -> dict[str, object]:
        return {"platform": self.platform, "dla_version": self.dla_version,
                "trt_version": self.trt_version, "precision": self.precision,
                "dla_available": self.dla_unavailable is None,
                "dla_unavailable_reason": self.dla_unavailable,
                "loadable_limit_per_core": self.loadable_limit}


def make_target(platform: str, trt_version: str | None = None,
                precision: str = "fp16") -> Target:
    """Validate and build a `Target`; raises `DlaError` for names that mean nothing.

    ``platform`` is any name of `profiles.platforms` (``orin-nx-8`` checks with Orin NX's
    rules); ``trt_version`` None means the TensorRT of that module's JetPack."""
    from profiles import platforms

    plat = str(platform).strip().lower()
    if platforms.known(plat) and plat not in PLATFORMS:
        info = platforms.resolve(plat)
        plat = info.family
        if trt_version is None:
            trt_version = info.trt_version
    elif trt_version is None and platforms.known(plat):
        trt_version = platforms.resolve(plat).trt_version
    if plat not in PLATFORMS:
        raise DlaError(f"unknown platform {platform!r}; choose one of "
                       f"{', '.join(PLATFORMS)} (the Jetsons with a DLA)", entry="--platform")
    prec = str(precision).strip().lower()
    if prec not in PRECISIONS:
        raise DlaError(f"unknown precision {precision!r}; choose fp16 or int8 (fp32 does not "
                       "run on a DLA)", entry="--precision")
    version = parse_trt_version(trt_version)
    major, minor, patch = version
    if version < (8, 4, 0):
        raise DlaError(f"TensorRT {trt_version} is older than the rules here cover (8.4, 8.5, "
                       "8.6, 10.0-10.7, 11.4.1+); the TRT 6/7 limits differ (docs/dla_rules.md)",
                       entry="--trt-version")
    dla_version = PLATFORMS[plat]
    why: str | None = None
    source = ""
    if major >= 12:
        raise DlaError(f"TensorRT {trt_version} is newer than the rules here cover (8.4, 8.5, "
                       "8.6, 10.0-10.7, 11.4.1+)", entry="--trt-version")
    if major == 9 or (major == 8 and minor > 6):
        why, source = (f"TensorRT {trt_version} has no Jetson release with DLA support",
                       "[doc-11.x]")
    elif major == 10 and minor > 7:
        why, source = ("TensorRT 10.7 was the last 10.x release that supported DLA; "
                       f"{trt_version} has no DLA", "[doc-11.x]")
    elif major == 11 and minor < 4:
        why, source = (f"DLA was unavailable in TensorRT 11.0 through 11.3 ({trt_version})",
                       "[doc-11.x]")
    elif major == 11 and minor == 4 and patch == 0:
        why, source = ("TensorRT 11.4.0 supported DLA only on Windows on ARM; Jetson AGX Orin "
                       "needs 11.4.1+ with JetPack 7.2.2+", "[doc-11.x]")
    elif major >= 11 and plat != "orin-agx":
        why, source = (f"TensorRT {trt_version} supports DLA on Jetson AGX Orin (JetPack "
                       f"7.2.2+) only, not on {plat}", "[doc-11.x]")
    if why is None and plat == "xavier-agx" and version >= (8, 6, 0):
        why, source = (f"Jetson AGX Xavier's last TensorRT is 8.5 (JetPack 5.1); {trt_version} "
                       "does not run there", "[log], [dla_rules.md section 7]")
    return Target(platform=plat, trt_version=str(trt_version).strip(), precision=prec,
                  dla_version=dla_version, version=version, dla_unavailable=why,
                  unavailable_source=source)


__all__ = [
    "PLATFORMS",
    "PRECISIONS",
    "DlaError",
    "Target",
    "loadable_limit_for_trt",
    "make_target",
    "parse_trt_version",
]
