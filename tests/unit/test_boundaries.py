"""Dependencies point inward (ARCHITECTURE.md): ``domain`` imports no other kabuguard
package, and ``guard`` (policy + the check) only ``domain``; the risk engine plugs into
the guard through a Protocol, so neither needs identity, broker or web."""

from __future__ import annotations

import ast
from pathlib import Path

import kabuguard

SRC = Path(kabuguard.__file__).parent
ALLOWED = {
    "domain": {"domain"},
    "guard": {"domain", "guard"},
}


def kabuguard_imports(path: Path) -> set[str]:
    """The top-level kabuguard packages a module imports (``kabuguard.x.y`` -> ``x``)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                 else [node.module or ""] if isinstance(node, ast.ImportFrom) and node.level == 0
                 else [])
        found |= {n.split(".")[1] for n in names if n.startswith("kabuguard.")}
    return found


def test_inner_packages_import_only_what_is_inside():
    offenders = {}
    for package, allowed in ALLOWED.items():
        for path in (SRC / package).rglob("*.py"):
            extra = kabuguard_imports(path) - allowed
            if extra:
                offenders[path.relative_to(SRC).as_posix()] = sorted(extra)
    assert offenders == {}


def test_the_import_scan_sees_imports(tmp_path):
    probe = tmp_path / "m.py"
    probe.write_text("import kabuguard.web.app\nfrom kabuguard.identity import x\n")
    assert kabuguard_imports(probe) == {"web", "identity"}
