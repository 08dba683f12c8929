"""The exception tree every domain raises. ``web/`` maps these to HTTP answers in one
handler; nothing below ``web/`` raises HTTPException.

Each error carries a stable ``code`` (for API clients), an English ``message`` (for
logs and the API) and optional ``params`` used by the web layer to show the Japanese
or English text on pages.
"""

from __future__ import annotations

from typing import Any, ClassVar


class KabuguardError(Exception):
    status: ClassVar[int] = 400
    code: ClassVar[str] = "error"

    def __init__(self, message: str, **params: Any) -> None:
        super().__init__(message)
        self.message = message
        self.params = params

    def to_dict(self) -> dict[str, Any]:
        return {"error": self.code, "message": self.message, **self.params}


class InvalidInput(KabuguardError):
    status = 422
    code = "invalid_input"


class NotFound(KabuguardError):
    status = 404
    code = "not_found"


class Conflict(KabuguardError):
    status = 409
    code = "conflict"


class Unauthorized(KabuguardError):
    status = 401
    code = "unauthorized"


class Forbidden(KabuguardError):
    status = 403
    code = "forbidden"


class InsufficientFunds(Conflict):
    code = "insufficient_cash"


class InsufficientHoldings(Conflict):
    code = "insufficient_holdings"


class UnknownSymbol(InvalidInput):
    code = "unknown_symbol"


class UnknownAccount(NotFound):
    code = "unknown_account"


class IdempotencyConflict(Conflict):
    code = "idempotency_key_reused"


class CoolingOff(Conflict):
    code = "bank_account_cooling_off"
