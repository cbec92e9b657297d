"""The schema of scenario files, checked before anything runs.

The YAML format of scenarios/README.md as pydantic models (``ScenarioSpec``,
``StepSpec`` and the mappings of the ``mail_link``, ``mail_code`` and
``totp`` actions): unknown keys, wrong types, zero or several actions in a
step, bad guide ids, missing sub-keys, regular expressions that do not
compile, ``{persona.…}`` and ``{saved[…]}`` that cannot be filled… are all
refused, every problem of a file at once, each located ``file:line:column``
at its YAML node (:func:`check`). The same models give the JSON Schema of
``scenarios/scenario.schema.json`` (:func:`json_schema_text`), which editors
use to complete and flag keys.

Every model's wrap validator keeps the errors pydantic found in its fields
and adds those of its own rules (:meth:`_Spec._rules`), so that a step with
an unknown key *and* two actions reports both.
"""
from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, ClassVar

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PlainValidator,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic.json_schema import GenerateJsonSchema
from pydantic_core import InitErrorDetails, PydanticCustomError

from fedsim import personas

GUIDE_ID = re.compile(r"^G(0[1-9]|1[0-9]|2[0-6])$")
ACTIONS = ("open", "click", "submit", "mail_link", "totp", "mail_code", "advance_clock", "oidc_login",
           "oidc_callback")
# « open: app:path »: the apps are those of the runner's URLs (monespace, idp_csam, modigia_sp, mailbox
# for the federation), so only the form is checked here.
APP_PATH = re.compile(r"^\w+(:|$)")
WITH_BUTTON = ("submit", "mail_code", "totp")  # the actions that submit a form
# What the runner fills in values: {persona.card.pin}, {persona.email}, {saved[name]}.
PLACEHOLDER = re.compile(r"\{(?:persona\.(?P<path>\w+(?:\.\w+)*)|saved\[(?P<saved>[^\]]+)\])\}")
SCHEMA_DIALECT = "http://json-schema.org/draft-07/schema#"  # what VS Code's YAML extension supports


# -- errors ---------------------------------------------------------------------------------

def _error(kind: str, message: str, *, sentence: bool = False, at_key: bool = False) -> PydanticCustomError:
    """A problem found by a rule of this module. ``message`` follows the key
    it is about (« 'remember.code' is not a valid… ») unless ``sentence``;
    ``at_key`` locates it at the key rather than at its value."""
    return PydanticCustomError(kind, "{message}", {"message": message, "sentence": sentence, "at_key": at_key})


def _shown(value: object) -> str:
    """``value`` as the scenario's author typed it, for messages."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "nothing"
    if isinstance(value, (int, float)):
        return f"the number {value}"
    if isinstance(value, str):
        return f"the text {value!r}"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


# -- value types ------------------------------------------------------------------------------

def _regex(value: str) -> str:
    try:
        re.compile(value)
    except re.error as exc:
        raise _error("regex", f"is not a valid regular expression: {exc}") from None
    return value


def _app_path(value: str) -> str:
    if not APP_PATH.match(value):
        raise _error("app_path", f"must be app:path, the app first (\"monespace:/path\"), got {value!r}")
    return value


def _guide_ids(value: object) -> tuple[str, ...]:
    ids = value if isinstance(value, list) else [value]
    bad = [g for g in ids if not (isinstance(g, str) and GUIDE_ID.match(g))]
    if not ids or bad:
        got = _shown(value) if not ids or not isinstance(value, list) else ", ".join(map(repr, bad))
        raise _error("guide", f"must name guide steps G01…G26 (G03, or a list [G03, G09]), got {got}")
    return tuple(ids)


def _texts(value: object) -> tuple[str, ...]:
    texts = value if isinstance(value, list) else [value]
    if not all(isinstance(t, str) for t in texts):
        raise _error("texts", f"must be a text or a list of texts, got {_shown(value)}")
    return tuple(texts)


def _persona_id(value: str) -> str:
    known = [p.id for p in personas.load()]
    if value not in known:
        raise _error("persona", f"names no persona of fedsim/data/personas.yaml, got {value!r} "
                                f"(known: {', '.join(known)})")
    return value


Regex = Annotated[str, AfterValidator(_regex)]
GuideIds = Annotated[Any, PlainValidator(_guide_ids), WithJsonSchema({
    "anyOf": [{"type": "string", "pattern": GUIDE_ID.pattern},
              {"type": "array", "items": {"type": "string", "pattern": GUIDE_ID.pattern}, "minItems": 1}]})]
Texts = Annotated[Any, PlainValidator(_texts), WithJsonSchema({
    "anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]})]
AppPath = Annotated[str, AfterValidator(_app_path), WithJsonSchema({"type": "string", "pattern": APP_PATH.pattern})]
PersonaId = Annotated[str, AfterValidator(_persona_id)]


# -- the models -------------------------------------------------------------------------------

class _Spec(BaseModel):
    """Strict (no type conversion), closed (no unknown key), every problem reported."""
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)
    what: ClassVar[str]  # how messages name this mapping

    @field_validator("*", mode="before")
    @classmethod
    def _not_empty(cls, value: object) -> object:
        if value is None:
            raise _error("empty", "is empty: give it a value or leave the key out")
        return value

    @model_validator(mode="wrap")
    @classmethod
    def _every_problem(cls, data: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        problems: list[InitErrorDetails] = []
        result = None
        try:
            result = handler(data)
        except ValidationError as exc:
            problems.extend(_kept(cls, error) for error in exc.errors())
        if isinstance(data, dict):
            problems.extend(cls._rules(data))
        if problems:
            raise ValidationError.from_exception_data(cls.__name__, problems)
        return result

    @classmethod
    def _rules(cls, data: dict) -> list[InitErrorDetails]:
        """The problems of rules across keys (the raw ``data``, whatever the
        validity of its values)."""
        return []


def _kept(model: type[_Spec], error: Any) -> InitErrorDetails:
    """A pydantic error, kept to be raised again with the others; an unknown
    key of ``model`` itself is named with the key it may be a typo of."""
    ctx = dict(error.get("ctx") or {})
    kind, message = error["type"], error["msg"]
    if kind == "invalid_key" and len(error["loc"]) == 1:
        kind, message, ctx = "unknown_key", f"unknown key {error['input']!r} in {model.what} (keys are texts)", \
            {"sentence": True, "at_key": True}
    if kind == "extra_forbidden" and len(error["loc"]) == 1:
        key = str(error["loc"][0])
        known = list(model.model_fields)
        close = difflib.get_close_matches(key, known, n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"the keys of {model.what} are {', '.join(known)}"
        kind, message, ctx = "unknown_key", f"unknown key {key!r} in {model.what} ({hint})", \
            {"sentence": True, "at_key": True}
    ctx["message"] = message
    return InitErrorDetails(type=PydanticCustomError(kind, "{message}", ctx), loc=tuple(error["loc"]),
                            input=error.get("input"))


def _problem(loc: tuple, error: PydanticCustomError, value: object) -> InitErrorDetails:
    return InitErrorDetails(type=error, loc=loc, input=value)


class MailLink(_Spec):
    """The e-mail to open a link of: {to, subject, link}."""
    what: ClassVar[str] = "'mail_link'"
    to: str = Field(description="The recipient's address (\"{persona.email}\").")
    subject: str | None = Field(None, description="Text the e-mail's subject contains (optional): the newest "
                                                  "e-mail to `to` with it is used.")
    link: str = Field(description="The text of the link to follow in that e-mail.")


class MailCode(_Spec):
    """The e-mail to read a code from, and the field for it: {to, subject, field, pattern}."""
    what: ClassVar[str] = "'mail_code'"
    to: str = Field(description="The recipient's address (\"{persona.email}\").")
    subject: str | None = Field(None, description="Text the e-mail's subject contains (optional): the newest "
                                                  "e-mail to `to` with it is used.")
    field: str = Field(description="The form field to fill with the code; that form is then submitted "
                                   "(`button: \"label\"` as for submit).")
    pattern: Regex = Field(description="Python regular expression finding the code in the e-mail's text: its "
                                       "first group, or the whole match ('\\b(\\d{6})\\b'). Not {persona}-filled.")


class Totp(_Spec):
    """The field for the authenticator app's code, and its secret: {field, secret_from_page}."""
    what: ClassVar[str] = "'totp'"
    field: str = Field(description="The form field to fill with the authenticator app's current code "
                                   "(RFC 6238, shared clock); that form is then submitted.")
    secret_from_page: Regex | None = Field(
        None, description="Python regular expression finding the TOTP secret in the page's HTML: its first "
                          "group, or the whole match ('data-secret=\"([A-Z2-7]+)\"'). Not {persona}-filled. "
                          "Without it, the secret of an earlier totp step.")


class OidcLogin(_Spec):
    """The OpenID Connect login a relying party starts at CSAM: {scope, acr_values, prompt, client_id}."""
    what: ClassVar[str] = "'oidc_login'"
    scope: str = Field("openid profile email", description="The scopes asked for (\"openid profile egovnrn\"); "
                                                           "egovnrn releases the national register number.")
    acr_values: str | None = Field(None, description="The FAS level(s) asked for, the weakest being the minimum "
                                                     "(\"urn:be:fedict:iam:fas:Level500\").")
    prompt: str | None = Field(None, description="none (no page: an answer or login_required) or login (the "
                                                 "person authenticates again).")
    client_id: str | None = Field(None, description="The client (default: fedsim-scenario-rp, CSAM's bundled "
                                                    "public client with PKCE, redirect https://rp.example/"
                                                    "oidc/callback, which the runner plays).")


class OidcCallback(_Spec):
    """The relying party's handling of CSAM's redirect back: {expect_error}."""
    what: ClassVar[str] = "'oidc_callback'"
    expect_error: str | None = Field(None, description="The OAuth error CSAM must have answered instead of a "
                                                       "code (login_required…). Without it, the code is redeemed "
                                                       "and the ID token checked; the page then lists its claims.")


class StepSpec(_Spec):
    """One step: the guide steps it covers, exactly one action, then checks."""
    model_config = ConfigDict(json_schema_extra={"oneOf": [{"required": [action]} for action in ACTIONS]})
    what: ClassVar[str] = "a step"

    guide: GuideIds = Field(description="The guide step(s) this step covers, G01…G26 of JOURNEY.md: G03, "
                                        "or a list [G03, G09].")
    say: str = Field("", description="What the person does, in words (shown in reports).")
    # the actions: exactly one
    open: AppPath | None = Field(None, description="Action: open a page, as app:path — app is monespace, "
                                                   "idp_csam, modigia_sp or mailbox (\"monespace:/path\").")
    click: str | None = Field(None, description="Action: click the link or button with this text (see "
                                                "`within`, `repeat`).")
    submit: dict[str, str] | None = Field(
        None, description="Action: fill the form holding these fields, {field: value}, and submit it (see "
                          "`button`). Values are texts: quote numbers (\"0000\"), which YAML would otherwise "
                          "read as numbers.")
    mail_link: MailLink | None = Field(None, description="Action: open the link `link` of the newest e-mail "
                                                         "to `to` (and with `subject`) in the mailbox.")
    totp: Totp | None = Field(None, description="Action: submit the authenticator app's current code (RFC 6238, "
                                                "shared clock) in `field`; the secret is found in the page by "
                                                "`secret_from_page`, or is that of an earlier totp step.")
    mail_code: MailCode | None = Field(None, description="Action: fill `field` with the code `pattern` finds in "
                                                         "the newest matching e-mail's text, and submit that "
                                                         "form (see `button`).")
    advance_clock: float | None = Field(None, gt=0, description="Action: move the shared clock forward by this "
                                                                "many minutes (in-process runs only).")
    oidc_login: OidcLogin | None = Field(None, description="Action: a relying party (Authlib's client) starts an "
                                                           "OpenID Connect login at CSAM (PKCE S256, state, nonce) "
                                                           "and the browser opens it.")
    oidc_callback: OidcCallback | None = Field(None, description="Action: the relying party takes CSAM's redirect "
                                                                 "back, redeems the code and checks the ID token "
                                                                 "(JWKS, iss, aud, nonce, acr); the page shows "
                                                                 "its claims.")
    # how the action is done
    within: str | None = Field(None, description="With click: the text of the row or block to look for the "
                                                 "link or button in.")
    repeat: bool = Field(False, description="With click: true clicks it again while it is there (at most 100 "
                                            "times).")
    button: str | None = Field(None, description="With submit, mail_code or totp: the label of the button that "
                                                 "submits the form.")
    # checks, all optional
    expect: Texts = Field((), description="Text the page must show, or a list of them: [\"text\", \"…\"].")
    expect_url: str | None = Field(None, description="Text the page's URL must contain (\"/part/of/url\"), or "
                                                     "\"app:/path\" for that app's address (\"modigia_sp:/\").")
    expect_status: int | None = Field(None, ge=100, le=599, description="The HTTP status the page must have "
                                                                        "(100–599); default: any 2xx.")
    remember: dict[str, Regex] = Field({}, description="{name: 'regex'}: after the checks, keeps the regex's "
                                                       "first group (or whole match) in the page text; later "
                                                       "values use it as {saved[name]}.")

    @classmethod
    def _rules(cls, data: dict) -> list[InitErrorDetails]:
        problems = []
        actions = [a for a in ACTIONS if a in data]
        if not actions:
            problems.append(_problem((), _error("no_action", f"exactly one action among {', '.join(ACTIONS)} is "
                                                             "needed, this step has none", sentence=True), data))
        for extra in actions[1:]:
            problems.append(_problem((extra,), _error(
                "several_actions", f"exactly one action among {', '.join(ACTIONS)} is needed, this step has "
                                   f"{' and '.join(actions)}", sentence=True, at_key=True), data[extra]))
        action = actions[0] if len(actions) == 1 else None
        for key, goes_with in (("within", ("click",)), ("repeat", ("click",)), ("button", WITH_BUTTON)):
            if key in data and action is not None and action not in goes_with:
                problems.append(_problem((key,), _error(
                    "misplaced", f"'{key}' goes with {' or '.join(goes_with)}, not with {action}",
                    sentence=True, at_key=True), data[key]))
        return problems

    @property
    def action(self) -> str:
        return next(a for a in ACTIONS if getattr(self, a) is not None)


class ScenarioSpec(_Spec):
    """A scenario file."""
    model_config = ConfigDict(title="fedsim scenario", json_schema_extra={
        "$schema": SCHEMA_DIALECT,
        "description": "A journey through the federation, step by step (scenarios/README.md). `{persona.…}` "
                       "in any value is replaced by the persona's field, `{saved[name]}` by what an earlier "
                       "step remembered; regular expressions are not filled."})
    what: ClassVar[str] = "a scenario"

    name: str | None = Field(None, description="The scenario's name, for `fedsim scenario run NAME` (the file "
                                               "name without .yaml). Default: the file name.")
    title: str = Field("", description="What the journey shows, in one line (shown in reports).")
    persona: PersonaId | None = Field(None, description="A persona of fedsim/data/personas.yaml (jean, naima…): "
                                                        "{persona.card.pin}, {persona.email}… in any value are "
                                                        "replaced by its fields. Leave it out for someone who is "
                                                        "not a persona (values are then typed literally).")
    steps: list[StepSpec] = Field(min_length=1, description="The steps of the journey, in order; each names "
                                                            "its guide steps, does exactly one action and "
                                                            "checks the page.")

    @classmethod
    def _rules(cls, data: dict) -> list[InitErrorDetails]:
        """``{persona.…}`` needs a persona that has that field; ``{saved[name]}``
        needs an earlier step that remembers ``name``."""
        persona_id = data.get("persona")
        known = {p.id: p for p in personas.load()}
        persona = known.get(persona_id) if isinstance(persona_id, str) else None
        steps = data.get("steps")
        problems: list[InitErrorDetails] = []
        remembered: set[str] = set()
        for index, step in enumerate(steps if isinstance(steps, list) else []):
            if not isinstance(step, dict):
                continue
            for loc, text in _filled_texts(step):
                for found in PLACEHOLDER.finditer(text):
                    wrong = _unfillable(found, persona, persona_id, remembered)
                    if wrong:
                        problems.append(_problem(("steps", index, *loc), _error("placeholder", wrong), text))
            if isinstance(step.get("remember"), dict):
                remembered.update(str(name) for name in step["remember"])
        return problems


def _filled_texts(step: dict) -> list[tuple[tuple, str]]:
    """The texts of a step in which the runner replaces placeholders, with
    their place: every value but the regular expressions."""
    found: list[tuple[tuple, str]] = []

    def walk(loc: tuple, value: object) -> None:
        if isinstance(value, str):
            found.append((loc, value))
        elif isinstance(value, dict):
            for key, item in value.items():
                if loc and (loc[-1], key) not in (("mail_code", "pattern"), ("totp", "secret_from_page")):
                    walk((*loc, key), item)
        elif isinstance(value, list):
            for i, item in enumerate(value):
                walk((*loc, i), item)

    for key, value in step.items():
        if key != "remember":
            walk((key,), value)
    return found


def _unfillable(found: re.Match, persona: personas.Persona | None, persona_id: object,
                remembered: set[str]) -> str:
    """Why the runner could not fill this placeholder ("" when it can)."""
    if found.group("saved") is not None:
        name = found.group("saved")
        return "" if name in remembered else (f"names {found.group(0)}, but no earlier step remembers {name!r} "
                                              f"(remember: {{{name}: 'regex'}})")
    if persona_id is None:
        return f"names {found.group(0)}, but the scenario names no persona"
    if persona is None:
        return ""  # an unknown persona is reported at 'persona'
    current: object = persona
    for part in found.group("path").split("."):
        if part.startswith("_") or not hasattr(current, part) or getattr(current, part) is None:
            return f"names {found.group(0)}, but persona {persona.id!r} has no {found.group('path')!r}"
        current = getattr(current, part)
    return ""


# -- where a problem is in the file -------------------------------------------------------------

@dataclass(frozen=True)
class Problem:
    file: str
    line: int  # 1-based; 0 when it is about the whole file
    column: int
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}:{self.column}" if self.line else self.file
        return f"{where}: {self.message}"


# A missing key whose message says more than « a step needs 'guide' ».
_MISSING = {"guide": "must name guide steps G01…G26 (G03, or a list [G03, G09]); it is missing",
            "steps": "is missing: a scenario is a list of steps"}

_TYPES = {"string_type": "must be a text", "bool_type": "must be true or false",
          "int_type": "must be a whole number", "float_type": "must be a number",
          "dict_type": "must be a mapping {key: value, …}", "model_type": "must be a mapping {key: value, …}",
          "model_attributes_type": "must be a mapping", "list_type": "must be a list"}


def _message(error: dict) -> str:
    """An English message for a pydantic error of a scenario file: « step 3:
    'expect_status' must be a whole number, got the text '200' »."""
    loc, kind, ctx = tuple(error["loc"]), error["type"], error.get("ctx") or {}
    step = ""
    if len(loc) >= 2 and loc[0] == "steps" and isinstance(loc[1], int):
        step, loc = f"step {loc[1] + 1}: ", loc[2:]
    if ctx.get("sentence"):
        return step + ctx["message"]
    if kind == "missing":
        *parent, key = loc
        if key in _MISSING:
            return f"{step}'{key}' {_MISSING[key]}"
        return f"{step}{_key(tuple(parent)) if parent else ('a step' if step else 'a scenario')} needs '{key}'"
    if loc and loc[-1] == "[key]":
        return f"{step}the keys of {_key(loc[:-2])} must be texts, got {_shown(error['input'])}"
    subject = _key(loc) if loc else ("the step" if step else "the file")
    if kind in _TYPES:
        return f"{step}{subject} {_TYPES[kind]}, got {_shown(error['input'])}"
    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        bound = {"greater_than": "more than {gt}", "greater_than_equal": "{ge} or more",
                 "less_than": "less than {lt}", "less_than_equal": "{le} or less"}[kind].format(
                     **{k: int(v) if isinstance(v, float) and v.is_integer() else v for k, v in ctx.items()})
        return f"{step}{subject} must be {bound}, got {_shown(error['input'])}"
    if kind == "too_short":
        return f"{step}{subject} must not be empty"
    return f"{step}{subject} {ctx.get('message') or error['msg']}"


def _key(loc: tuple) -> str:
    """« 'mail_code.field' », « 'expect' (item 2) »."""
    keys = ".".join(str(k) for k in loc if not isinstance(k, int))
    items = [k for k in loc if isinstance(k, int)]
    return f"'{keys}'" + (f" (item {items[-1] + 1})" if items else "")


def _node_at(root: yaml.Node, loc: tuple, at_key: bool) -> yaml.Node:
    """The YAML node of ``loc`` (pydantic's path), or of its deepest part
    that is in the file (a missing key: the mapping that misses it)."""
    node, key_node = root, None
    for part in loc:
        if isinstance(node, yaml.MappingNode) and part != "[key]":
            pair = next(((k, v) for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == str(part)),
                        None)
            if pair is None:
                return node
            key_node, node = pair
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            key_node, node = None, node.value[part]
        elif part == "[key]" and key_node is not None:
            return key_node
        else:
            return node
    return key_node if at_key and key_node is not None else node


def _duplicate_keys(node: yaml.Node) -> list[tuple[yaml.Node, str]]:
    """Keys given twice in one mapping (YAML keeps the last one, silently)."""
    found: list[tuple[yaml.Node, str]] = []
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode):
                if key.value in seen:
                    found.append((key, f"duplicate key {key.value!r} (YAML would keep only the last one)"))
                seen.add(key.value)
            found.extend(_duplicate_keys(value))
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            found.extend(_duplicate_keys(item))
    return found


def check_text(text: str, file: str) -> tuple[ScenarioSpec | None, list[Problem]]:
    """The scenario of the YAML ``text`` (None when it is not valid) and every
    problem of it, in the order of the file; ``file`` names it in messages."""
    def at(node: yaml.Node | yaml.Mark | None, message: str) -> Problem:
        mark = getattr(node, "start_mark", node)
        return Problem(file, mark.line + 1, mark.column + 1, message) if mark else Problem(file, 1, 1, message)

    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc)
        return None, [at(mark, f"not valid YAML: {problem}")]
    if root is None or not isinstance(data, dict):
        return None, [at(root, "a scenario is a mapping with 'name', 'title', 'persona' (optional) and "
                               "a list of 'steps'")]
    problems = [at(key, message) for key, message in _duplicate_keys(root)]
    spec = None
    try:
        spec = ScenarioSpec.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors():
            node = _node_at(root, tuple(error["loc"]), bool((error.get("ctx") or {}).get("at_key")))
            problems.append(at(node, _message(error)))
    problems.sort(key=lambda p: (p.line, p.column))
    return (spec if not problems else None), problems


def check(path: Path, shown: str | None = None) -> tuple[ScenarioSpec | None, list[Problem]]:
    """:func:`check_text` of the file ``path``, named ``shown`` (default: ``path``) in messages."""
    file = shown if shown is not None else str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        return None, [Problem(file, 0, 0, f"not UTF-8 text: {exc}")]
    except OSError as exc:
        return None, [Problem(file, 0, 0, f"cannot be read: {exc.strerror or exc}")]
    return check_text(text, file)


# -- the JSON Schema ------------------------------------------------------------------------------

class _JsonSchema(GenerateJsonSchema):
    """Draft-07 JSON Schema for editors: an optional key is left out, not
    null (YAML's empty value is refused); no generated titles."""

    def nullable_schema(self, schema: Any) -> dict:
        return self.generate_inner(schema["schema"])

    def default_schema(self, schema: Any) -> dict:
        generated = super().default_schema(schema)
        if "default" in generated and generated["default"] in (None, [], {}):
            generated.pop("default")
        return generated

    def field_title_should_be_set(self, schema: Any) -> bool:
        return False


def json_schema() -> dict:
    generated = ScenarioSpec.model_json_schema(ref_template="#/definitions/{model}", schema_generator=_JsonSchema,
                                               mode="validation")
    definitions = generated.pop("$defs", {})
    for definition in definitions.values():
        definition.pop("title", None)
        for name, prop in definition.get("properties", {}).items():
            if "$ref" in prop and len(prop) > 1:  # draft-07 ignores the keys beside a $ref
                definition["properties"][name] = {"allOf": [{"$ref": prop.pop("$ref")}], **prop}
    ordered = {"$schema": generated.pop("$schema"), **generated}
    ordered["definitions"] = definitions
    return ordered


def json_schema_text() -> str:
    """The text of scenarios/scenario.schema.json."""
    return json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n"

