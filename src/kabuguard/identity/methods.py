"""Authentication methods and assurance levels: the vocabulary lives in
``domain/assurance.py`` so that the guard can use it without importing identity."""

from kabuguard.domain.assurance import METHOD_LEVEL, Level, Method, level_of

__all__ = ["METHOD_LEVEL", "Level", "Method", "level_of"]
