"""`Refusal`: why one DLA rule says no to one node, with the rule's source.

Source tags are those of docs/dla_rules.md: ``[hdr X]`` (``NvInfer.h`` of TensorRT release
X), ``[doc-latest]``, ``[doc-8.4]``, ``[dla-sw]``, ``[log]``, ``[doc-11.x]``, and
``[unverified]`` for rules commonly quoted but not confirmed from a primary text (they still
refuse, and say so).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Refusal:
    """One reason a node cannot run on the DLA.

    ``rule``: stable id (``conv.kernel``, ``deconv.padding``, ...); ``parameter``: the
    attribute or tensor at fault; ``message``: one sentence with the offending value and the
    allowed range; ``source``: the rule's source tag; ``value``: the offending value as text.
    """

    rule: str
    parameter: str
    message: str
    source: str
    value: str = ""

    def __str__(self) -> str:
        return f"{self.rule}: {self.message} {self.source}"

    def to_dict(self) -> dict[str, str]:
        return {"rule": self.rule, "parameter": self.parameter, "value": self.value,
                "message": self.message, "source": self.source}


def fmt(value: Any) -> str:
    """Compact text of a value for messages: tuples as ``[a, b]``, floats short."""
    if isinstance(value, tuple | list):
        return "[" + ", ".join(fmt(v) for v in value) + "]"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def refuse(rule: str, parameter: str, value: Any, message: str, source: str) -> Refusal:
    return Refusal(rule=rule, parameter=parameter, message=message, source=source,
                   value=fmt(value))


def in_range(rule: str, parameter: str, values: Sequence[int] | Iterable[int], lo: int, hi: int,
             source: str, what: str) -> list[Refusal]:
    """One refusal when any of ``values`` lies outside ``[lo, hi]``."""
    vals = tuple(int(v) for v in values)
    bad = [v for v in vals if v < lo or v > hi]
    if not bad:
        return []
    return [refuse(rule, parameter, vals,
                   f"{what} {fmt(vals)} outside [{lo}, {hi}] on DLA", source)]


__all__ = ["Refusal", "fmt", "in_range", "refuse"]
