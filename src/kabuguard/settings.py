"""One validated configuration object for the whole process (pydantic-settings).

Every value comes from ``KABUGUARD_*`` environment variables. ``create_app`` and the CLI
build services from it; nothing reads the environment anywhere else.
"""

from __future__ import annotations

import base64
import hashlib
import re
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from kabuguard.broker.market import FxRates
from kabuguard.crypto import FieldCipher
from kabuguard.domain.netinfo import IpRanges
from kabuguard.guard.policy import load_policy
from kabuguard.notify.email import SmtpTarget, maildir_path

# The demo key is derived from a public string: it protects nothing and is refused
# outside demo mode, so a production deployment cannot start with it by accident.
DEMO_DATA_KEY = base64.urlsafe_b64encode(
    hashlib.sha256(b"kabuguard demo data key - not a secret").digest()
).decode()


class ConfigError(ValueError):
    """The configuration cannot be used; the message says which setting and why."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="KABUGUARD_", extra="ignore")

    mode: Literal["demo", "production"] = "demo"
    database_url: str = "sqlite:///var/kabuguard.db"
    # Fernet key (32 url-safe base64 bytes) for personal data at rest; several keys,
    # comma separated, rotate: the first encrypts, all decrypt.
    data_key: str | None = None
    host: str = "localhost"
    port: int = Field(default=8000, ge=1, le=65535)
    # A new withdrawal account may not receive money until this has passed.
    bank_cooling_off: timedelta = timedelta(hours=72)
    # After an account recovery, withdrawals, bank account and contact changes and MFA
    # removals are refused until this has passed (identity/recovery.py).
    recovery_cooling_off: timedelta = Field(default=timedelta(hours=72), gt=timedelta(0))
    session_idle: timedelta = timedelta(minutes=30)
    session_absolute: timedelta = timedelta(hours=12)
    # "real" follows each exchange's JST hours; "always_open" is for tests and
    # benchmarks that must execute at any hour.
    market_hours: Literal["real", "always_open"] = "real"
    # Overrides of the default rates (broker.market.FxRates), JPY per unit.
    fx_rates: dict[str, Decimal] = Field(default_factory=dict)
    # WebAuthn relying party: a host name (an IP address cannot be an RP ID) and the
    # origins pages are served from; empty means http://{host}:{port}.
    webauthn_rp_id: str = "localhost"
    webauthn_origins: list[str] = Field(default_factory=list)
    # Directory of Pwned Passwords range files (ABCDE.txt: "SUFFIX:COUNT" lines); the
    # default is the small sample shipped with the package.
    breached_passwords_dir: Path | None = None
    # A preset name (guard/presets) or the path of a policy file. The demo default
    # asks for a password only, so a newcomer can click through at once; production
    # deployments name a JSDA preset (README: "Trying the JSDA rules").
    policy: str = "baseline_2024"
    max_order_notional_yen: int = Field(default=500_000_000, gt=0)
    max_withdrawal_yen: int = Field(default=100_000_000, gt=0)
    # -- notices (kabuguard.notify) --
    # Where e-mail goes: smtp://[user:pass@]host:port (add ?starttls=true), smtps://…,
    # or maildir:///path (a folder; the demo's default). Unset: e-mail notices are
    # parked as dead letters naming this setting.
    smtp_url: str | None = None
    mail_from: str = "かぶガード証券 <no-reply@kabuguard.example>"
    # The firm's SMS and app-push gateways (JSON POST signed with HMAC-SHA256); unset,
    # notices go by e-mail only. maildir:///path also works here, for the demo.
    sms_webhook_url: str | None = None
    push_webhook_url: str | None = None
    notify_timeout: timedelta = timedelta(seconds=10)
    # Deliver notices from the app's own background loop (embedded mode). At scale,
    # set it false and run `kabuguard notify dispatch --loop` as a worker process
    # (ARCHITECTURE.md, deployment modes), so sending mail never competes with the
    # requests for the app's CPU.
    notify_in_app: bool = True
    notify_max_attempts: int = Field(default=8, ge=1, le=50)
    notify_retry_base: timedelta = timedelta(seconds=30)
    notify_retry_max: timedelta = timedelta(hours=1)
    # The number every notice's footer tells the customer to call if it was not them.
    support_phone: str = "0120-000-000"
    # CSV (cidr,country,asn,kind) mapping addresses to country and network; default:
    # the sample shipped in kabuguard/domain/data/ip_ranges.csv.
    ip_ranges: Path | None = None
    # -- decision API (POST /api/v1/events) --
    # The risk engine beside the policy (KABUGUARD_RISK=on|off); "off" decides by the
    # policy alone, as the engine-less configurations of the simulator do.
    risk: bool = True
    # The risk engine's action rules (docs/risk-rules.md); unset: the shipped
    # kabuguard/risk/rules/default.yaml. Checked at start, with file, line and reason.
    risk_rules: Path | None = None
    # How far an event may arrive out of time order (the firm's clocks and network)
    # behind the latest one accepted; older ones are refused with 422.
    event_reorder_tolerance: timedelta = Field(default=timedelta(minutes=5),
                                               ge=timedelta(0), le=timedelta(hours=1))

    @field_validator("database_url")
    @classmethod
    def _known_backend(cls, value: str) -> str:
        if not value.startswith(("sqlite", "postgresql")):
            msg = "KABUGUARD_DATABASE_URL must be a sqlite:/// or postgresql:// URL"
            raise ValueError(msg)
        return value

    @field_validator("fx_rates")
    @classmethod
    def _known_currencies(cls, value: dict[str, Decimal]) -> dict[str, Decimal]:
        FxRates.from_mapping(value)  # raises ValueError naming the bad entry
        return value

    @field_validator("policy")
    @classmethod
    def _policy_loads(cls, value: str) -> str:
        load_policy(value)  # a bad policy file is refused at start, with line and reason
        return value

    @field_validator("breached_passwords_dir")
    @classmethod
    def _breach_dir_exists(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_dir():
            msg = f"KABUGUARD_BREACHED_PASSWORDS_DIR is not a directory: {value}"
            raise ValueError(msg)
        return value

    @field_validator("risk_rules")
    @classmethod
    def _rules_load(cls, value: Path | None) -> Path | None:
        if value is not None:
            from kabuguard.risk.rules import load_rules  # noqa: PLC0415 - only when set

            load_rules(value)  # RuleError (a ValueError) names the file, line and rule
        return value

    @field_validator("smtp_url")
    @classmethod
    def _mail_url(cls, value: str | None) -> str | None:
        if value and maildir_path(value) is None:
            SmtpTarget.parse(value)  # raises ValueError saying what is wrong
        return value or None

    @field_validator("sms_webhook_url", "push_webhook_url")
    @classmethod
    def _webhook_url(cls, value: str | None) -> str | None:
        if value and not value.startswith(("https://", "http://", "maildir://")):
            msg = "a webhook URL must start with https:// (or http://, or maildir:// for the demo)"
            raise ValueError(msg)
        return value or None

    @field_validator("support_phone")
    @classmethod
    def _phone_only(cls, value: str) -> str:
        if not re.fullmatch(r"[0-9+][0-9 ()-]{5,20}", value.strip()):
            msg = "KABUGUARD_SUPPORT_PHONE must be a phone number such as 0120-000-000"
            raise ValueError(msg)
        return value.strip()

    @field_validator("ip_ranges")
    @classmethod
    def _ip_ranges_load(cls, value: Path | None) -> Path | None:
        if value is not None:
            try:
                IpRanges.from_csv(value)
            except OSError as exc:
                msg = f"KABUGUARD_IP_RANGES cannot be read: {exc.strerror or exc}: {value}"
                raise ValueError(msg) from None
        return value

    @model_validator(mode="after")
    def _secrets_outside_demo(self) -> Settings:
        if self.mode == "production":
            if not self.data_key:
                msg = (
                    "KABUGUARD_DATA_KEY is not set: personal data is encrypted at rest and "
                    "production mode needs a key (generate one with "
                    "`kabuguard keygen`)"
                )
                raise ValueError(msg)
            if self.data_key.split(",")[0].strip() == DEMO_DATA_KEY:
                msg = "KABUGUARD_DATA_KEY is the public demo key; generate a real one"
                raise ValueError(msg)
        FieldCipher(self.data_keys)  # a malformed key fails here, at start, naming it
        return self

    @property
    def data_keys(self) -> list[str]:
        raw = self.data_key or DEMO_DATA_KEY
        return [k.strip() for k in raw.split(",") if k.strip()]

    @property
    def origins(self) -> tuple[str, ...]:
        return tuple(self.webauthn_origins) or (f"http://{self.host}:{self.port}",)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def sqlite_path(self) -> Path | None:
        if not self.is_sqlite:
            return None
        path = self.database_url.split("///", 1)[1]
        return Path(path) if path and path != ":memory:" else None


def load_settings(**overrides: object) -> Settings:
    """Read and validate settings; raise ConfigError with one readable line."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValueError as exc:  # pydantic.ValidationError is a ValueError
        errors = getattr(exc, "errors", None)
        if callable(errors):
            parts = []
            for err in errors():
                loc = ".".join(str(p) for p in err.get("loc", ()))
                text = str(err.get("msg", "")).removeprefix("Value error, ")
                parts.append(f"{loc}: {text}" if loc else text)
            raise ConfigError("; ".join(parts)) from None
        raise ConfigError(str(exc)) from None
