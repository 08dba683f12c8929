"""Refuse passwords found in breach corpora (NIST SP 800-63B §3.1.1.2: a new password
is compared against values known to be compromised).

Reads the k-anonymity range files of Pwned Passwords from a local directory: one file
per 5-hex-digit SHA-1 prefix (``ABCDE`` or ``ABCDE.txt``), each line
``<35 hex suffix>:<count>``. Only the prefix file of the password's hash is read, so a
full corpus (about 1 million files) costs one small read per check and no memory.
A small sample ships in ``identity/data/pwned-sample`` for tests and the demo.
"""

from __future__ import annotations

import hashlib
from importlib import resources
from pathlib import Path

from kabuguard.identity.interfaces import WeakPassword


class BreachedPasswords:
    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory or Path(str(resources.files("kabuguard.identity")
                                               .joinpath("data/pwned-sample")))
        if not self.directory.is_dir():
            msg = f"breached-password directory not found: {self.directory}"
            raise ValueError(msg)

    def count(self, password: str) -> int:
        """How often the password appears in the corpus (0: not found).

        >>> BreachedPasswords().count("password1234") > 0
        True
        """
        digest = hashlib.sha1(password.encode("utf-8"), usedforsecurity=False).hexdigest().upper()
        prefix, suffix = digest[:5], digest[5:]
        for name in (prefix, f"{prefix}.txt"):
            path = self.directory / name
            if path.is_file():
                return _find(path, suffix)
        return 0

    def check(self, password: str) -> None:
        """Raise WeakPassword when the password is in the corpus."""
        seen = self.count(password)
        if seen:
            raise WeakPassword(
                "This password appears in lists of leaked passwords "
                f"({seen:,} times). Please choose another one.", field="password",
                breach_count=seen)


def _find(path: Path, suffix: str) -> int:
    with path.open(encoding="ascii") as lines:
        for line in lines:
            head, _, count = line.strip().partition(":")
            if head.upper() == suffix:
                return int(count or 1)
    return 0
