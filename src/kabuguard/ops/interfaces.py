"""Exceptions of the operations package (reports, evidence, self-check)."""

from __future__ import annotations

from kabuguard.domain.errors import InvalidInput


class ChecklistError(ValueError):
    """The guideline checklist file cannot be used; the message names the item and why."""


class EvidenceError(InvalidInput):
    """An evidence bundle cannot be built (no such account, a chain too long to prove)."""

    code = "evidence_unavailable"


class BundleUnreadable(ValueError):
    """The file is not an evidence bundle at all (not a zip, files missing, bad JSON)."""
