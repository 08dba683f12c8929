"""Action rules as data: a versioned YAML file of boolean conditions on an event's features.

Analysts read, edit and version the file (``risk/rules/default.yaml`` ships); each rule has
a reason code (its ``id``), an outcome, a score and a description in Japanese and English.
Conditions are written in simpleeval's language (a subset of Python expressions). Loading
checks every rule against the features list, a whitelist of constructs and a small type
system, and refuses a bad file naming the file, the line, the rule and the reason.

simpleeval's interpreter costs tens of microseconds per rule, far over the engine's budget
(50,000 events/s for everything), so the checked conditions are compiled once, per event
type, into one function of the features object that returns a tuple of booleans. Only the
validated tree is compiled, with no builtins reachable; simpleeval stays the reference
semantics (``RuleSet.evaluate_reference``) and a property test keeps the two in step.
"""

from __future__ import annotations

import ast
import copy
import difflib
import hashlib
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import simpleeval
import yaml
from yaml.nodes import Node, SequenceNode

from kabuguard.domain.assurance import Method
from kabuguard.domain.events import Channel, EventType
from kabuguard.domain.yaml_nodes import NodeReader

SUPPORTED_VERSIONS = (1,)
OUTCOMES = ("allow", "challenge", "hold", "deny", "freeze", "revoke_session", "notify")
LEVELS = ("otp", "phishing_resistant")
EVENT_TYPES = tuple(t.value for t in EventType)
ID_RE = re.compile(r"^[a-z][a-z0-9_]*$")
UNKNOWN = 1e9  # "never" / "unknown" for minutes, ages and ratios (the features contract)

# Kinds of the tiny type system: a condition must be "bool"; "strs"/"nums" are sets
# (login_reasons, or a literal tuple/set/list) and appear only on the right of ``in``.
BOOL, NUM, STR, STRS, NUMS = "bool", "num", "str", "strs", "nums"
KIND_WORDS = {BOOL: "true/false", NUM: "a number", STR: "a string", STRS: "a set of strings",
              NUMS: "a set of numbers"}


@dataclass(frozen=True, slots=True)
class Feature:
    kind: str
    default: Any
    meaning: str
    values: tuple[str, ...] = ()  # the known values of a string feature ("" always allowed)


LOGIN_REASONS = ("new_device", "new_ip", "new_asn", "new_country", "new_user_agent",
                 "foreign_country", "hosting_network", "vpn_or_tor", "ip_many_failures",
                 "ip_many_accounts", "asn_many_failures")
MARKETS = ("TSE_PRIME", "TSE_STANDARD", "TSE_GROWTH", "SSE", "SZSE", "HKEX", "NYSE", "NASDAQ")
_B, _N, _S = BOOL, NUM, STR

# The names a rule may use (contract "kabuguard.risk.rules" in the session's contracts;
# docs/risk-rules.md explains them). The default is the value for an event the feature
# says nothing about; None never appears.
FEATURES: Mapping[str, Feature] = {
    "type": Feature(_S, "", "event type", EVENT_TYPES),
    "channel": Feature(_S, "", "channel", tuple(c.value for c in Channel)),
    "account_known": Feature(_B, False, "the event names a known account"),
    "account_age_days": Feature(_N, UNKNOWN, "days since the account was opened (1e9 unknown)"),
    "hour_jst": Feature(_N, 12, "hour of the day in Japan (0-23)"),
    "ip_country": Feature(_S, "", "country of the IP address (ISO alpha-2, '' unknown)"),
    "ip_kind": Feature(_S, "", "kind of network", ("residential", "mobile", "hosting", "vpn", "tor")),
    "foreign_ip": Feature(_B, False, "IP country differs from the customer's home country"),
    "login_risk": Feature(_N, 0.0, "risk score of this login or of the session's login (log10 LR)"),
    "login_reasons": Feature(STRS, frozenset(), "reason codes of that login's score", LOGIN_REASONS),
    "new_device": Feature(_B, False, "that login came from a device never seen for the account"),
    "new_ip": Feature(_B, False, "... from a new IP address"),
    "new_asn": Feature(_B, False, "... from a new network (ASN)"),
    "new_country": Feature(_B, False, "... from a new country"),
    "new_user_agent": Feature(_B, False, "... with a new browser or app version"),
    "session_level": Feature(_N, 0, "what the session proved: 0 none, 1 password, 2 otp, "
                                    "3 phishing-resistant"),
    "event_level": Feature(_N, 0, "level of the step-up done for this very event"),
    "session_ip_changed": Feature(_B, False, "this event's IP differs from its session's login"),
    "session_asn_changed": Feature(_B, False, "... its network (ASN)"),
    "session_country_changed": Feature(_B, False, "... its country"),
    "session_device_changed": Feature(_B, False, "... its device"),
    "session_ua_changed": Feature(_B, False, "... its user agent"),
    "mins_since_login": Feature(_N, UNKNOWN, "minutes since the session's login (1e9 no session)"),
    "mins_since_bank_change": Feature(_N, UNKNOWN, "minutes since the last bank account change"),
    "mins_since_contact_change": Feature(_N, UNKNOWN, "minutes since the last contact change"),
    "mins_since_password_change": Feature(_N, UNKNOWN, "minutes since the last password change"),
    "mins_since_mfa_remove": Feature(_N, UNKNOWN, "minutes since an MFA method was removed"),
    "mins_since_recovery": Feature(_N, UNKNOWN, "minutes since the last account recovery"),
    "mins_since_risky_login": Feature(_N, UNKNOWN, "minutes since a login with login_risk >= 2"),
    "ip_failures": Feature(_N, 0, "recent failed logins from this IP address"),
    "ip_accounts": Feature(_N, 0, "recent distinct accounts tried from this IP address"),
    "asn_failures": Feature(_N, 0, "recent failed logins from this network"),
    "side": Feature(_S, "", "order side", ("buy", "sell")),
    "symbol": Feature(_S, "", "order symbol"),
    "market": Feature(_S, "", "market of the symbol", MARKETS),
    "foreign_symbol": Feature(_B, False, "the symbol is not listed on the Tokyo Stock Exchange"),
    "illiquid": Feature(_B, False, "average daily value traded under 100 million yen"),
    "adv_jpy": Feature(_N, 0.0, "20-day average daily value traded of the symbol, yen"),
    "notional_jpy": Feature(_N, 0.0, "estimated value of the order, yen"),
    "notional_adv": Feature(_N, 0.0, "notional_jpy / adv_jpy"),
    "notional_vs_history": Feature(_N, 0.0, "notional / the account's largest earlier order "
                                            "(1e9 no history; 0 for other events)"),
    "first_buy_of_symbol": Feature(_B, False, "the account never bought this symbol before"),
    "never_bought_illiquid": Feature(_B, False, "the account never bought an illiquid symbol"),
    "never_bought_foreign": Feature(_B, False, "the account never bought a foreign symbol"),
    "sell_share_of_holding": Feature(_N, 0.0, "share of the holding of this symbol sold (0-1)"),
    "sold_share_24h": Feature(_N, 0.0, "share of the portfolio's value sold in 24 h, this order "
                                       "included (0-1)"),
    "amount_jpy": Feature(_N, 0.0, "withdrawal amount, yen"),
    "withdraw_share": Feature(_N, 0.0, "amount / estimated cash before (0-1)"),
    "bank_changed_recently": Feature(_B, False, "the bank account changed in the last 7 days"),
    "mfa_change": Feature(_S, "", "MFA change", ("enroll", "remove")),
    "mfa_method": Feature(_S, "", "method enrolled or removed", tuple(m.value for m in Method)),
    "contact_field": Feature(_S, "", "contact detail changed", ("email", "phone", "address")),
    "symbol_pump_score": Feature(_N, 0.0, "cross-account score of coordinated buying of the symbol"),
    "symbol_buyers": Feature(_N, 0, "distinct recent buyers of the symbol"),
    "symbol_restricted": Feature(_B, False, "buying the symbol is restricted"),
    "beneficiary_score": Feature(_N, 0.0, "this seller bought before a surge it now sells into"),
}
FUNCTIONS: Mapping[str, Callable[..., Any]] = {"min": min, "max": max, "abs": abs}
_COMPARE_WORDS = {ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">",
                  ast.GtE: ">=", ast.In: "in", ast.NotIn: "not in"}
_ARITHMETIC = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod)
_FEATURE_ARG = "_f"  # the compiled function's parameter; no feature starts with "_"


def neutral_features(**overrides: Any) -> SimpleNamespace:
    """A features object holding every default, with ``overrides`` applied.

    >>> neutral_features(login_risk=2.5).login_risk, neutral_features().mins_since_login
    (2.5, 1000000000.0)
    """
    unknown = set(overrides) - set(FEATURES)
    if unknown:
        msg = f"unknown features: {', '.join(sorted(unknown))}"
        raise ValueError(msg)
    return SimpleNamespace(**{name: f.default for name, f in FEATURES.items()} | overrides)


class RuleError(ValueError):
    """A rules file refused: ``"{source}:{line}: rule '{rule}': {reason}"``."""

    def __init__(self, source: str, line: int | None, rule: str | None, reason: str) -> None:
        self.source, self.line, self.rule, self.reason = source, line, rule, reason
        where = source + (f":{line}" if line else "")
        super().__init__(f"{where}: " + (f"rule '{rule}': " if rule else "") + reason)


@dataclass(frozen=True, slots=True)
class RuleHit:
    """A rule that fired: ``code`` is the rule's id, the reason code decisions list."""

    code: str
    outcome: str
    level: str | None
    score: float
    shadow: bool
    description: str


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    when: str
    outcome: str
    level: str | None
    score: float
    shadow: bool
    applies_to: tuple[str, ...] | None  # None: every event type
    description_ja: str
    description_en: str
    line: int

    @property
    def description(self) -> str:
        return self.description_en

    def hit(self) -> RuleHit:
        return RuleHit(code=self.id, outcome=self.outcome, level=self.level, score=self.score,
                       shadow=self.shadow, description=self.description_en)


_Plan = tuple[Callable[[Any], tuple[bool, ...]], tuple[RuleHit, ...]]


class RuleSet:
    """Loaded, checked and compiled rules. ``evaluate`` is the hot path."""

    def __init__(self, *, version: int, digest: str, source: str, rules: tuple[Rule, ...],
                 trees: Mapping[str, ast.expr]) -> None:
        self.version = version
        self.digest = digest  # sha256 of the file's text: decisions' provenance
        self.source = source
        self.rules = rules
        self._trees = trees
        self._by_type: dict[str, _Plan | None] = {
            t: _plan(tuple(r for r in rules if r.applies_to is None or t in r.applies_to), trees)
            for t in EVENT_TYPES}
        # An event type this file does not know (a producer's extension) gets the rules
        # meant for every type.
        self._fallback = _plan(tuple(r for r in rules if r.applies_to is None), trees)

    def rule(self, code: str) -> Rule:
        for rule in self.rules:
            if rule.id == code:
                return rule
        raise KeyError(code)

    def evaluate(self, f: Any) -> list[RuleHit]:
        """The hits of the rules that apply to ``f.type``, shadow ones included (marked)."""
        plan = self._by_type.get(f.type, self._fallback)
        if plan is None:
            return []
        conditions, hits = plan
        fired = conditions(f)
        if True not in fired:  # the common case: an ordinary event, no rule fires
            return []
        return [hit for hit, yes in zip(hits, fired, strict=True) if yes]

    def evaluate_reference(self, f: Any) -> list[RuleHit]:
        """The same as ``evaluate`` through simpleeval's interpreter (slow: for tests)."""
        evaluator = _reference_evaluator({name: getattr(f, name) for name in FEATURES})
        return [r.hit() for r in self.rules
                if (r.applies_to is None or f.type in r.applies_to)
                and evaluator.eval(r.when, previously_parsed=self._trees[r.id]) is True]


def _reference_evaluator(names: dict[str, Any]) -> simpleeval.SimpleEval:
    return simpleeval.EvalWithCompoundTypes(names=names, functions=dict(FUNCTIONS))


def _plan(rules: tuple[Rule, ...], trees: Mapping[str, ast.expr]) -> _Plan | None:
    if not rules:
        return None
    return _compile([trees[r.id] for r in rules]), tuple(r.hit() for r in rules)


class _ToAttributes(ast.NodeTransformer):
    """Feature names become ``_f.name``: the compiled function reads the object directly."""

    def visit_Name(self, node: ast.Name) -> ast.AST:
        if node.id in FEATURES:
            return ast.copy_location(ast.Attribute(
                value=ast.Name(id=_FEATURE_ARG, ctx=ast.Load()), attr=node.id, ctx=ast.Load()), node)
        return node


def _compile(trees: list[ast.expr]) -> Callable[[Any], tuple[bool, ...]]:
    """``lambda _f: (cond1, cond2, ...)`` from checked trees. The trees hold only the
    whitelisted nodes (``_Checker``), and the globals hold only min/max/abs and an empty
    ``__builtins__``, so nothing else is reachable from the code."""
    body = ast.Tuple(elts=[_ToAttributes().visit(copy.deepcopy(t)) for t in trees], ctx=ast.Load())
    args = ast.arguments(posonlyargs=[], args=[ast.arg(arg=_FEATURE_ARG)], kwonlyargs=[],
                         kw_defaults=[], defaults=[])
    tree = ast.fix_missing_locations(ast.Expression(body=ast.Lambda(args=args, body=body)))
    code = compile(tree, "<rules>", "eval")
    return eval(code, {"__builtins__": {}, **FUNCTIONS})  # noqa: S307 (checked tree; see above)


class _Refused(Exception):
    """Internal: becomes a RuleError naming the file, line and rule."""


class _Checker:
    """Whitelist and types: every node of a condition must be one this class knows."""

    def kind(self, node: ast.AST) -> str:  # noqa: PLR0912 (one branch per construct reads best)
        if isinstance(node, ast.Constant):
            return self.constant(node.value)
        if isinstance(node, ast.Name):
            return self.name(node.id)
        if isinstance(node, ast.BoolOp):
            for value in node.values:
                self.expect(value, BOOL, "'and'/'or' combine true/false conditions")
            return BOOL
        if isinstance(node, ast.UnaryOp):
            if isinstance(node.op, ast.Not):
                self.expect(node.operand, BOOL, "'not' applies to a true/false condition")
                return BOOL
            if isinstance(node.op, ast.USub | ast.UAdd):
                self.expect(node.operand, NUM, "a sign applies to a number")
                return NUM
        if isinstance(node, ast.BinOp) and isinstance(node.op, _ARITHMETIC):
            if isinstance(node.op, ast.Div | ast.FloorDiv | ast.Mod) and not _nonzero_number(node.right):
                # A feature may be 0 (adv_jpy of a non-order): ratios are features already.
                raise _Refused("divide only by a non-zero number written in the rule "
                               "(use the ratio features: notional_adv, notional_vs_history, "
                               "withdraw_share)")
            self.expect(node.left, NUM, "arithmetic applies to numbers")
            self.expect(node.right, NUM, "arithmetic applies to numbers")
            return NUM
        if isinstance(node, ast.Compare):
            return self.compare(node)
        if isinstance(node, ast.IfExp):
            self.expect(node.test, BOOL, "the test of 'x if test else y' must be true/false")
            body = self.kind(node.body)
            self.expect(node.orelse, body, "both branches of 'x if test else y' must agree")
            return body
        if isinstance(node, ast.Call):
            return self.call(node)
        if isinstance(node, ast.Tuple | ast.List | ast.Set):
            return self.collection(node)
        raise _Refused(_describe_refused(node))

    def constant(self, value: object) -> str:
        if isinstance(value, bool):
            return BOOL
        if isinstance(value, int | float):
            return NUM
        if isinstance(value, str):
            return STR
        raise _Refused(f"the value {value!r} is not allowed (numbers, strings, True, False)")

    def name(self, name: str) -> str:
        if name in FEATURES:
            return FEATURES[name].kind
        if name in FUNCTIONS:
            raise _Refused(f"'{name}' is a function: call it, as in {name}(a, b)")
        raise _Refused(_unknown_name(name))

    def expect(self, node: ast.AST, kind: str, why: str) -> None:
        got = self.kind(node)
        if got != kind and not (kind == NUM and got == BOOL):  # True counts 1, as in Python
            raise _Refused(f"{why}; '{ast.unparse(node)}' is {KIND_WORDS[got]}")

    def compare(self, node: ast.Compare) -> str:
        operands = [node.left, *node.comparators]
        for op, left, right in zip(node.ops, operands, operands[1:], strict=False):
            if type(op) not in _COMPARE_WORDS:
                raise _Refused(f"the comparison '{ast.unparse(node)}' is not allowed "
                               f"(use {', '.join(_COMPARE_WORDS.values())})")
            word = _COMPARE_WORDS[type(op)]
            lk, rk = self.kind(left), self.kind(right)
            if isinstance(op, ast.In | ast.NotIn):
                ok = (lk == STR and rk in (STR, STRS)) or (lk in (NUM, BOOL) and rk == NUMS)
            elif isinstance(op, ast.Eq | ast.NotEq):
                ok = lk == rk or {lk, rk} <= {NUM, BOOL}
            else:
                ok = lk in (NUM, BOOL) and rk in (NUM, BOOL)
            if not ok:
                raise _Refused(f"cannot compare {KIND_WORDS[lk]} '{ast.unparse(left)}' {word} "
                               f"{KIND_WORDS[rk]} '{ast.unparse(right)}'")
            if not isinstance(op, ast.In | ast.NotIn) or rk != STR:  # not a substring test
                _check_known_values(left, right)
                _check_known_values(right, left)
        return BOOL

    def call(self, node: ast.Call) -> str:
        func = node.func
        if not isinstance(func, ast.Name):
            raise _Refused(_describe_refused(func) if isinstance(func, ast.Attribute)
                           else f"only {', '.join(FUNCTIONS)} may be called")
        if func.id not in FUNCTIONS:
            reason = (f"'{func.id}' is a feature, not a function" if func.id in FEATURES
                      else f"unknown function '{func.id}' (functions: {', '.join(FUNCTIONS)})")
            raise _Refused(reason)
        if node.keywords or any(isinstance(a, ast.Starred) for a in node.args):
            raise _Refused(f"{func.id}() takes plain arguments only")
        wanted = (1, 1) if func.id == "abs" else (2, 8)
        if not wanted[0] <= len(node.args) <= wanted[1]:
            raise _Refused(f"{func.id}() takes {'one number' if func.id == 'abs' else '2 to 8 numbers'}")
        for arg in node.args:
            self.expect(arg, NUM, f"{func.id}() takes numbers")
        return NUM

    def collection(self, node: ast.Tuple | ast.List | ast.Set) -> str:
        kinds = set()
        for element in node.elts:
            if not isinstance(element, ast.Constant) or isinstance(element.value, bool):
                raise _Refused("a list, tuple or set in a rule holds only numbers or only "
                               f"strings written out: '{ast.unparse(node)}'")
            kinds.add(self.constant(element.value))
        if len(kinds) != 1:
            raise _Refused(f"'{ast.unparse(node)}' mixes kinds (or is empty)")
        return STRS if kinds == {STR} else NUMS


def _nonzero_number(node: ast.AST) -> bool:
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        node = node.operand
    return (isinstance(node, ast.Constant) and isinstance(node.value, int | float)
            and not isinstance(node.value, bool) and node.value != 0)


def _check_known_values(name_node: ast.AST, other: ast.AST) -> None:
    """``side == "sel"`` would never fire; a typo in a value is refused like one in a name."""
    if not (isinstance(name_node, ast.Name) and name_node.id in FEATURES):
        return
    known = FEATURES[name_node.id].values
    if not known:
        return
    literals = ([other] if isinstance(other, ast.Constant)
                else other.elts if isinstance(other, ast.Tuple | ast.List | ast.Set) else [])
    for literal in literals:
        if isinstance(literal, ast.Constant) and isinstance(literal.value, str) \
                and literal.value not in known and literal.value != "":
            raise _Refused(f"'{literal.value}' is not a value of {name_node.id} "
                           f"(known: {', '.join(known)})")


def _describe_refused(node: ast.AST) -> str:
    if isinstance(node, ast.Attribute):
        return f"attribute access ('.{node.attr}') is not allowed"
    if isinstance(node, ast.Subscript):
        return "subscripts ('x[...]') are not allowed"
    if isinstance(node, ast.Lambda | ast.ListComp | ast.SetComp | ast.DictComp | ast.GeneratorExp):
        return "lambdas and comprehensions are not allowed"
    if isinstance(node, ast.BinOp):
        return f"the operator in '{ast.unparse(node)}' is not allowed (use + - * / // %)"
    if isinstance(node, ast.UnaryOp):
        return f"the operator in '{ast.unparse(node)}' is not allowed"
    return f"{type(node).__name__} ('{ast.unparse(node)}') is not allowed in a rule"


def _unknown_name(name: str) -> str:
    close = difflib.get_close_matches(name, list(FEATURES), n=1, cutoff=0.6)
    return f"unknown name '{name}'" + (f" (did you mean '{close[0]}'?)" if close else "")


def check_condition(text: str) -> ast.expr:
    """Parse and check one condition; raise ValueError with the reason.

    >>> ast.unparse(check_condition("login_risk >= 2 and new_device"))
    'login_risk >= 2 and new_device'
    >>> check_condition("login_rsk >= 2")
    Traceback (most recent call last):
    ...
    ValueError: unknown name 'login_rsk' (did you mean 'login_risk'?)
    """
    try:
        tree = ast.parse(text.strip(), mode="eval").body
        kind = _Checker().kind(tree)
    except SyntaxError as exc:
        msg = f"not a valid expression: {exc.msg} in '{text.strip()}'"
        raise ValueError(msg) from None
    except RecursionError:
        msg = "the condition is nested too deeply"
        raise ValueError(msg) from None
    except _Refused as exc:
        raise ValueError(str(exc)) from None
    if kind != BOOL:
        msg = f"the condition must be true/false, but '{text.strip()}' is {KIND_WORDS[kind]}"
        raise ValueError(msg)
    # simpleeval is the reference: the condition must evaluate there too, to a bool.
    try:
        value = _reference_evaluator({n: f.default for n, f in FEATURES.items()}).eval(
            text, previously_parsed=tree)
    except Exception as exc:  # any failure of the reference refuses the rule
        msg = f"simpleeval cannot evaluate it: {exc}"
        raise ValueError(msg) from None
    if not isinstance(value, bool):
        msg = f"the condition gave {value!r}, not true/false"
        raise ValueError(msg)
    return tree


class _Reader(NodeReader):
    """Walks the YAML node tree so every complaint names its line (as guard/policy.py)."""

    def __init__(self, source: str) -> None:
        super().__init__(source)
        self.rule: str | None = None

    def fail(self, node: Node, reason: str) -> RuleError:
        return RuleError(self.source, node.start_mark.line + 1, self.rule, reason)

    def only(self, fields: dict[str, tuple[Node, Node]], allowed: tuple[str, ...], what: str) -> None:
        for name, (key, _) in fields.items():
            if name not in allowed:
                close = difflib.get_close_matches(name, allowed, n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else f" (allowed: {', '.join(allowed)})"
                raise self.fail(key, f"unknown field '{name}' in {what}{hint}")

    def boolean(self, node: Node, what: str) -> bool:
        text = self.scalar(node, what)
        if not node.tag.endswith(":bool"):
            raise self.fail(node, f"{what} must be true or false, not '{text}'")
        return text.lower() in ("true", "yes", "on", "y")

    def number(self, node: Node, what: str) -> float:
        text = self.scalar(node, what)
        try:
            value = float(text)
        except ValueError:
            value = math.nan
        if not math.isfinite(value):
            raise self.fail(node, f"{what} must be a number, not '{text}'")
        return value


RULE_FIELDS = ("id", "when", "outcome", "level", "score", "shadow", "applies_to",
               "description_ja", "description_en")


def parse_rules(text: str, *, source: str = "<rules>") -> RuleSet:
    """Parse, check and compile a rules file; raise RuleError naming line, rule and reason."""
    try:
        root = yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise RuleError(source, mark.line + 1 if mark else None, None,
                        f"not valid YAML: {getattr(exc, 'problem', None) or exc}") from None
    if root is None:
        raise RuleError(source, None, None, "the rules file is empty")
    r = _Reader(source)
    top = r.mapping(root, "the rules file")
    r.only(top, ("version", "description", "rules"), "the rules file")
    for required in ("version", "rules"):
        if required not in top:
            raise r.fail(root, f"the rules file needs '{required}'")
    version_node = top["version"][1]
    version_text = r.scalar(version_node, "version")
    if not version_text.isdigit() or int(version_text) not in SUPPORTED_VERSIONS:
        raise r.fail(version_node, f"unsupported version '{version_text}' "
                                   f"(supported: {', '.join(map(str, SUPPORTED_VERSIONS))})")
    rules_node = top["rules"][1]
    if not isinstance(rules_node, SequenceNode):
        raise r.fail(rules_node, "rules must be a list")
    rules: list[Rule] = []
    trees: dict[str, ast.expr] = {}
    seen: dict[str, int] = {}
    for index, node in enumerate(rules_node.value, start=1):
        r.rule = f"#{index}"
        rule, tree = _rule(r, node)
        if rule.id in seen:
            raise r.fail(node, f"duplicate id (first at line {seen[rule.id]})")
        seen[rule.id] = rule.line
        rules.append(rule)
        trees[rule.id] = tree
    return RuleSet(version=int(version_text), digest=hashlib.sha256(text.encode()).hexdigest(),
                   source=source, rules=tuple(rules), trees=trees)


def _rule(r: _Reader, node: Node) -> tuple[Rule, ast.expr]:
    fields = r.mapping(node, "a rule")
    if "id" in fields:
        rid = r.scalar(fields["id"][1], "id")
        if not ID_RE.match(rid):
            raise r.fail(fields["id"][1], f"id '{rid}' must be snake_case (a-z, 0-9, _): it is "
                                          "the reason code decisions show")
        r.rule = rid
    r.only(fields, RULE_FIELDS, "a rule")
    for required in ("id", "when", "outcome", "description_ja", "description_en"):
        if required not in fields:
            raise r.fail(node, f"the rule needs '{required}'")
    outcome_node = fields["outcome"][1]
    outcome = r.scalar(outcome_node, "outcome")
    if outcome not in OUTCOMES:
        raise r.fail(outcome_node, f"unknown outcome '{outcome}' (use {', '.join(OUTCOMES)})")
    level = None
    if "level" in fields:
        level = r.scalar(fields["level"][1], "level")
        if outcome != "challenge":
            raise r.fail(fields["level"][0], f"level applies only to outcome challenge (not {outcome})")
        if level not in LEVELS:
            raise r.fail(fields["level"][1], f"unknown level '{level}' (use {', '.join(LEVELS)})")
    elif outcome == "challenge":
        raise r.fail(outcome_node, f"a challenge needs a level ({', '.join(LEVELS)})")
    applies_to = _applies_to(r, fields["applies_to"][1]) if "applies_to" in fields else None
    when_node = fields["when"][1]
    when = r.scalar(when_node, "when")
    try:
        tree = check_condition(when)
    except ValueError as exc:
        raise r.fail(when_node, str(exc)) from None
    rule = Rule(id=r.rule or "", when=when.strip(), outcome=outcome, level=level,
                score=r.number(fields["score"][1], "score") if "score" in fields else 0.0,
                shadow=r.boolean(fields["shadow"][1], "shadow") if "shadow" in fields else False,
                applies_to=applies_to,
                description_ja=r.scalar(fields["description_ja"][1], "description_ja").strip(),
                description_en=r.scalar(fields["description_en"][1], "description_en").strip(),
                line=node.start_mark.line + 1)
    return rule, tree


def _applies_to(r: _Reader, node: Node) -> tuple[str, ...]:
    if not isinstance(node, SequenceNode) or not node.value:
        raise r.fail(node, "applies_to must be a list of event types such as [order, withdrawal]")
    out: list[str] = []
    for item in node.value:
        name = r.scalar(item, "an event type")
        if name not in EVENT_TYPES:
            close = difflib.get_close_matches(name, EVENT_TYPES, n=1)
            hint = f"did you mean '{close[0]}'?" if close else f"known: {', '.join(EVENT_TYPES)}"
            raise r.fail(item, f"unknown event type '{name}' ({hint})")
        if name in out:
            raise r.fail(item, f"'{name}' appears twice in applies_to")
        out.append(name)
    return tuple(out)


def load_rules(path_or_text: str | Path, *, source: str | None = None) -> RuleSet:
    """A rules file by ``Path`` (or a one-line ``str`` path), or the YAML text itself
    (a ``str`` with a newline). Raises RuleError."""
    if isinstance(path_or_text, Path) or "\n" not in path_or_text:
        path = Path(path_or_text)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise RuleError(str(path), None, None, f"cannot read the rules file: {exc.strerror}") from None
        return parse_rules(text, source=source or str(path))
    return parse_rules(path_or_text, source=source or "<rules>")


def packaged_rules() -> RuleSet:
    """The shipped first cut, ``risk/rules/default.yaml``."""
    text = resources.files("kabuguard.risk").joinpath("rules/default.yaml").read_text(encoding="utf-8")
    return parse_rules(text, source="kabuguard/risk/rules/default.yaml")
