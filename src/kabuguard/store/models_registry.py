"""Imports every domain's models so ``Base.metadata`` is complete (for Alembic)."""

from kabuguard.audit import models as audit_models
from kabuguard.broker import models as broker_models
from kabuguard.bus import models as bus_models
from kabuguard.identity import models as identity_models
from kabuguard.notify import models as notify_models
from kabuguard.ops import compensation_models as ops_compensation_models
from kabuguard.ops import console_models as ops_console_models
from kabuguard.ops import models as ops_models
from kabuguard.risk import models as risk_models

__all__ = ["audit_models", "broker_models", "bus_models", "identity_models", "notify_models",
           "ops_compensation_models", "ops_console_models", "ops_models", "risk_models"]
