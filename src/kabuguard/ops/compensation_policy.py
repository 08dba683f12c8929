"""Compensation presets as data: how a firm compensates the victim of an account takeover.

A preset is a YAML file (shipped ones in ``compensation_presets/``, one per firm policy
of 2025 as listed in shared/design/JP-RULES.md §4). Each states its method (restoration
in kind, or cash), what loss it pays and at what rate, the fee refund, the flat sympathy
payment (見舞金), the window of fraud it covers, whether a person must set a negligence
factor, and where the rule comes from and how sure we are of it. Loading checks every
field and refuses a bad file with its path, line and reason (as ``guard/policy.py``
does), so a typo cannot silently pay a customer the wrong amount.

The framework behind all of them: the JSDA ten-firm agreement of 2025-05-02 (第三者が
不正に顧客資産で売買した被害について約款等の定めに関わらず一定の補償), decided per case
considering the customer's handling of the credentials and the firm's own measures.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from importlib import resources
from pathlib import Path
from typing import TypeVar

import yaml
from yaml.nodes import Node, ScalarNode, SequenceNode

from kabuguard.domain.errors import InvalidInput
from kabuguard.domain.yaml_nodes import NodeReader

SUPPORTED_VERSIONS = (1,)
PRESET_DIR = "compensation_presets"
E = TypeVar("E", bound=StrEnum)


class PresetError(InvalidInput):
    """A compensation preset file is malformed; the message names file, line and reason."""

    code = "invalid_compensation_preset"


class Method(StrEnum):
    """``restoration``: the account is put back as it was (原状回復): sold holdings given
    back, fraudulently bought positions removed, cash restored. ``cash``: the account is
    left as it is and the firm pays money."""

    RESTORATION = "restoration"
    CASH = "cash"


class Basis(StrEnum):
    """The loss a cash preset pays a share of (see ``ops/compensation.py``)."""

    # Realised and unrealised loss on the securities the intruder bought (SBI, Rakuten).
    LOSS_ON_BOUGHT = "loss_on_bought"
    # The same plus the loss on the customer's own holdings the intruder sold (Matsui).
    LOSS_ON_BOUGHT_AND_SOLD_OWN = "loss_on_bought_and_sold_own"
    # Trade value bought minus trade value sold (SBI Neotrade: 買付約定代金 − 売付約定代金).
    NET_TRADE_VALUE = "net_trade_value"


class Negligence(StrEnum):
    """Whether a person sets a negligence factor: ``optional`` (may reduce), ``required``
    (the computation refuses to run without a reviewed factor, even 0), ``not_applicable``
    (restoration is in kind: it is granted whole or a cash preset is used instead)."""

    OPTIONAL = "optional"
    REQUIRED = "required"
    NOT_APPLICABLE = "not_applicable"


class Certainty(StrEnum):
    """How sure we are of the rule, with JP-RULES.md's reliability tags."""

    PRIMARY = "primary"  # [一次] the firm's or regulator's own page was seen
    REPORTED = "reported"  # [報道] news reports
    SECONDARY = "secondary"  # [二次] blogs, analyses
    UNVERIFIED = "unverified"  # [未確認]
    HOUSE = "house"  # our own rule (no firm's policy behind it)


@dataclass(frozen=True, slots=True)
class CompensationPreset:
    """One compensation rule. Rates are exact decimals in [0, 1]; money is integer yen.

    ``covers_from``/``covers_until`` are JST calendar dates, both inclusive: fraudulent
    trades outside them are not covered by this preset (Nomura's restoration covers fraud
    up to 2025-06-28, the day before its login OTP became mandatory)."""

    name: str
    title_ja: str
    title_en: str
    description_ja: str
    description_en: str
    method: Method
    basis: Basis | None
    rate: Decimal
    fee_refund_rate: Decimal
    sympathy_payment_yen: int
    negligence: Negligence
    covers_from: date | None
    covers_until: date | None
    sources: tuple[str, ...]
    certainty: Certainty
    assumptions: tuple[str, ...] = ()
    version: int = 1
    origin: str = ""


_FIELDS = {"version", "name", "title_ja", "title_en", "description_ja", "description_en",
           "method", "basis", "rate", "fee_refund_rate", "sympathy_payment_yen", "negligence",
           "covers_from", "covers_until", "sources", "certainty", "assumptions"}
_REQUIRED = ("version", "name", "title_ja", "title_en", "description_ja", "description_en",
             "method", "negligence", "sources", "certainty")
# Restoration puts the account back as it was: there is no rate, basis or separate fee
# refund to choose (the restored cash includes the fees), so stating one is a mistake.
_CASH_ONLY = ("basis", "rate", "fee_refund_rate", "sympathy_payment_yen")
MAX_SYMPATHY_PAYMENT_YEN = 1_000_000


class _Reader(NodeReader):
    """Walks the YAML node tree so that every complaint names its line."""

    def fail(self, node: Node, reason: str) -> PresetError:
        return PresetError(f"{self.source}:{node.start_mark.line + 1}: {reason}",
                           source=self.source, line=node.start_mark.line + 1, reason=reason)

    def text(self, node: Node, what: str) -> str:
        if not isinstance(node, ScalarNode) or node.tag.endswith(":null"):
            raise self.fail(node, f"{what} must be a single value")
        value = node.value.strip()
        if not value:
            raise self.fail(node, f"{what} must not be empty")
        return value

    def texts(self, node: Node, what: str) -> tuple[str, ...]:
        if not isinstance(node, SequenceNode) or not node.value:
            raise self.fail(node, f"{what} must be a non-empty list")
        return tuple(self.text(item, f"an entry of {what}") for item in node.value)

    def choice(self, node: Node, enum: type[E], what: str) -> E:
        value = self.text(node, what)
        try:
            return enum(value)
        except ValueError:
            raise self.fail(node, f"unknown {what} '{value}' (use "
                                  f"{', '.join(e.value for e in enum)})") from None

    def fraction(self, node: Node, what: str) -> Decimal:
        value = self.text(node, what)
        try:
            # Read from the text, never through a float: 0.1 must stay exactly 0.1.
            number = Decimal(value)
        except InvalidOperation:
            raise self.fail(node, f"{what} must be a number such as 0.5") from None
        if not number.is_finite() or not Decimal(0) <= number <= Decimal(1):
            raise self.fail(node, f"{what} must be between 0 and 1 (a share, not a percent)")
        return number

    def yen(self, node: Node, what: str, *, at_most: int) -> int:
        value = self.text(node, what).replace("_", "")
        if not value.isdigit():
            raise self.fail(node, f"{what} must be a whole number of yen")
        amount = int(value)
        if amount > at_most:
            raise self.fail(node, f"{what} must be at most {at_most:,} yen")
        return amount

    def day(self, node: Node, what: str) -> date:
        value = self.text(node, what)
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise self.fail(node, f"{what} must be a date such as 2025-06-28") from None


def parse_preset(text: str, *, source: str = "<preset>") -> CompensationPreset:
    """Parse and check a preset. Raises PresetError naming the source, line and reason."""
    try:
        root = yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark else 0
        reason = f"not valid YAML: {getattr(exc, 'problem', None) or exc}"
        raise PresetError(f"{source}:{line}: {reason}", source=source, line=line,
                          reason=reason) from None
    if root is None:
        raise PresetError(f"{source}:1: the preset file is empty", source=source, line=1,
                          reason="the preset file is empty")
    r = _Reader(source)
    top = r.mapping(root, "the preset")
    for name, (key, _) in top.items():
        if name not in _FIELDS:
            raise r.fail(key, f"unknown field '{name}' (allowed: {', '.join(sorted(_FIELDS))})")
    for name in _REQUIRED:
        if name not in top:
            raise r.fail(root, f"the preset needs '{name}'")
    version_node = top["version"][1]
    version = r.text(version_node, "version")
    if not version.isdigit() or int(version) not in SUPPORTED_VERSIONS:
        raise r.fail(version_node, f"unsupported version '{version}' "
                                   f"(supported: {SUPPORTED_VERSIONS})")
    method = r.choice(top["method"][1], Method, "method")
    negligence = r.choice(top["negligence"][1], Negligence, "negligence")
    if method is Method.RESTORATION:
        basis, rate, fee_rate, sympathy = _restoration_fields(r, top, negligence)
    else:
        basis, rate, fee_rate, sympathy = _cash_fields(r, root, top, negligence)
    covers_from, covers_until = _window(r, top)
    return CompensationPreset(
        name=r.text(top["name"][1], "name"),
        title_ja=r.text(top["title_ja"][1], "title_ja"),
        title_en=r.text(top["title_en"][1], "title_en"),
        description_ja=r.text(top["description_ja"][1], "description_ja"),
        description_en=r.text(top["description_en"][1], "description_en"),
        method=method, basis=basis, rate=rate, fee_refund_rate=fee_rate,
        sympathy_payment_yen=sympathy, negligence=negligence,
        covers_from=covers_from, covers_until=covers_until,
        sources=r.texts(top["sources"][1], "sources"),
        certainty=r.choice(top["certainty"][1], Certainty, "certainty"),
        assumptions=(r.texts(top["assumptions"][1], "assumptions") if "assumptions" in top
                     else ()),
        version=int(version), origin=source)


Fields = dict[str, tuple[Node, Node]]


def _restoration_fields(r: _Reader, top: Fields,
                        negligence: Negligence) -> tuple[None, Decimal, Decimal, int]:
    for name in _CASH_ONLY:
        if name in top:
            raise r.fail(top[name][0], f"'{name}' does not apply to restoration (the "
                                       "account is put back as it was, fees included)")
    if negligence is not Negligence.NOT_APPLICABLE:
        raise r.fail(top["negligence"][1], "restoration is granted whole: negligence must "
                                           "be not_applicable (reduce with a cash preset)")
    return None, Decimal(1), Decimal(1), 0


def _cash_fields(r: _Reader, root: Node, top: Fields,
                 negligence: Negligence) -> tuple[Basis, Decimal, Decimal, int]:
    for name in ("basis", "rate", "fee_refund_rate"):
        if name not in top:
            raise r.fail(root, f"a cash preset needs '{name}'")
    if negligence is Negligence.NOT_APPLICABLE:
        raise r.fail(top["negligence"][1], "a cash preset can always be reduced for "
                                           "negligence: use optional or required")
    basis = r.choice(top["basis"][1], Basis, "basis")
    rate = r.fraction(top["rate"][1], "rate")
    if rate == 0:
        raise r.fail(top["rate"][1], "rate must be above 0 (a preset that pays nothing "
                                     "is a refusal, which a person decides per case)")
    fee_rate = r.fraction(top["fee_refund_rate"][1], "fee_refund_rate")
    sympathy = (r.yen(top["sympathy_payment_yen"][1], "sympathy_payment_yen",
                      at_most=MAX_SYMPATHY_PAYMENT_YEN)
                if "sympathy_payment_yen" in top else 0)
    return basis, rate, fee_rate, sympathy


def _window(r: _Reader, top: Fields) -> tuple[date | None, date | None]:
    covers_from = r.day(top["covers_from"][1], "covers_from") if "covers_from" in top else None
    covers_until = (r.day(top["covers_until"][1], "covers_until") if "covers_until" in top
                    else None)
    if covers_from and covers_until and covers_until < covers_from:
        raise r.fail(top["covers_until"][1], "covers_until is before covers_from")
    return covers_from, covers_until


def preset_names() -> tuple[str, ...]:
    """The shipped presets' names, sorted."""
    folder = resources.files("kabuguard.ops").joinpath(PRESET_DIR)
    return tuple(sorted(entry.name.removesuffix(".yaml") for entry in folder.iterdir()
                        if entry.name.endswith(".yaml")))


def load_preset(name_or_path: str) -> CompensationPreset:
    """A shipped preset by name, or a preset file by path. Raises PresetError.

    A shipped file's ``name`` must match its file name, so the name stored with an
    approved proposal always finds the same file again."""
    if name_or_path in preset_names():
        text = resources.files("kabuguard.ops").joinpath(
            f"{PRESET_DIR}/{name_or_path}.yaml").read_text(encoding="utf-8")
        preset = parse_preset(text, source=f"preset {name_or_path}")
        if preset.name != name_or_path:
            raise PresetError(f"preset {name_or_path}: its name is '{preset.name}'",
                              source=name_or_path, line=0, reason="name differs from file")
        return preset
    path = Path(name_or_path)
    if not path.is_file():
        msg = (f"compensation preset '{name_or_path}' is neither a shipped preset "
               f"({', '.join(preset_names())}) nor a readable file")
        raise PresetError(msg, source=name_or_path, line=0, reason="not found")
    return parse_preset(path.read_text(encoding="utf-8"), source=str(path))


def load_presets() -> dict[str, CompensationPreset]:
    """Every shipped preset by name."""
    return {name: load_preset(name) for name in preset_names()}
