from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Problem = Literal["edited", "deleted", "reordered", "truncated", "inserted"]


@dataclass(frozen=True, slots=True)
class VerifyResult:
    """Outcome of ``verify``: ``ok`` with the count, or the first bad record and why."""

    ok: bool
    checked: int
    head_seq: int | None
    first_bad_seq: int | None = None
    problem: Problem | None = None
    detail: str = ""
