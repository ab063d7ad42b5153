"""The explorer's form, framework-free: built from conf/ and the parameter dataclasses.

Nothing here knows a scenario, a detector or an option by name. The form is read from:

* **conf/** - every config group is a directory (``scenario/``, ``insider/``, a nested
  ``insider/strategy/``...) and every option a YAML file in it; which groups a config uses, and
  the option each has, come from Hydra's own record of the composed config
  (``hydra.runtime.choices``), so ``detector@detectors.audit`` and a group added next month
  appear alike;
* **the composed config** - every leaf under a model section (``network``, ``insider``,
  ``detectors.NAME``, ``triage``, ...) is a field whose default is the composed value;
* **the parameter dataclasses** - a field's type, range, choices, duration rule and one-line
  doc come from the ``spec()`` metadata of the dataclass that builds its section: the
  ``Params`` of the class a node's ``_target_`` names (detectors, insider strategies), the
  signature of a ``@makes`` function (networks), or :data:`SECTION_PARAMS` for the sections
  ``build_model`` builds without a ``_target_``. A key the dataclass declares but the YAML
  leaves out is a field too (set with ``+KEY=VALUE``, as on the command line).

A filled form becomes the exact overrides of ``python -m sim`` (:func:`to_overrides`), and is
checked along the command line's own path (:func:`validate`): Hydra composes the config, then
:func:`sim.cli.app.check_job` runs the checks ``run_job`` runs before simulating, so a bad value
gets the one-line error the terminal prints, attached to its field. What a browser may send is
narrower than the command line: only keys of the form, no sweeps, no ``${...}`` interpolation
(which could read the server's environment), no ``_target_`` (a class is chosen by picking a
config option), and replications x horizon bounded (:mod:`sim.core.limits`).
"""

from __future__ import annotations

import dataclasses
import inspect
import math
import re
import shlex
import typing
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sim.core.errors import ConfigError, SimError

#: Dataclasses of the sections ``build_model`` (and the policy layer) build without a
#: ``_target_``, by dotted config key (``""`` is the top level). A section missing here still
#: appears, with types read from its YAML values; a node with a ``_target_`` never needs an
#: entry (its class's ``Params`` says everything).
SECTION_PARAMS: dict[str, str] = {
    "": "sim.core.engine.RunParams",
    "insider": "sim.agents.insider.InsiderProfile",
    "background": "sim.world.background.BackgroundParams",
    "triage": "sim.controls.triage.TriageParams",
    "response": "sim.core.engine.ResponseParams",
    "regime": "sim.policy.model.RegimeParams",
    "firm": "sim.policy.model.FirmParams",
}

#: Top-level keys the explorer sets itself, never shown: each run writes its own dir, draws its
#: own figures and traces a replication on demand (why each is managed, for the docs).
MANAGED_KEYS: dict[str, str] = {
    "output": "the explorer draws its own figures and shows its own progress",
    "trace": "a replication is traced on demand, in its own view",
    "trace_replication": "chosen in the replication view",
    "resume": "each run of the explorer has its own fresh dir",
    "workers": "one process per run keeps a shared server fair",
    "shard": "an arm is one whole job; sharding is for clusters (python -m sim.report --pool)",
    "shards": "an arm is one whole job; sharding is for clusters (python -m sim.report --pool)",
}

#: Config groups the explorer does not offer (how jobs are launched, not what is simulated).
HIDDEN_GROUPS: tuple[str, ...] = ("hydra",)

#: Group keys (``GROUP`` or ``GROUP@PACKAGE``) that may be left unset, offered with "(none)".
NONE_OPTION = "(none)"

_BARE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.:+\-/]*$")
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


# ============================================================================ the model
@dataclass(frozen=True)
class Field:
    """One value of the form.

    Attributes:
        key: the dotted config key (``detectors.audit.interval``).
        section: the dotted key of its section (``detectors.audit``; ``""`` for the top level).
        kind: ``int``, ``float``, ``duration``, ``bool``, ``choice``, ``list`` or ``text``.
        default: the default as override text (what ``KEY=`` takes on the command line).
        doc: one line from the dataclass (empty if none).
        choices: the allowed strings (``choice``; for ``list``, the allowed items).
        lo, hi, lo_open, allow_inf: the numeric range (None: unbounded).
        present: the key is in the composed config (else it is set with ``+KEY=VALUE``).
    """

    key: str
    section: str
    kind: str
    default: str
    doc: str = ""
    choices: tuple[str, ...] | None = None
    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False
    allow_inf: bool = False
    present: bool = True

    @property
    def name(self) -> str:
        """The key's last part (``interval``)."""
        return self.key.rpartition(".")[2]

    def allowed(self) -> str:
        """What the field accepts, in words (for a hint beside the input)."""
        parts = []
        if self.kind == "duration":
            parts.append("duration: hours or 90m, 4h, 30d, 2w, 5mo, 1y"
                         + (", inf" if self.allow_inf else ""))
        elif self.kind in ("int", "float"):
            parts.append("integer" if self.kind == "int" else "number")
        elif self.kind == "bool":
            parts.append("true or false")
        elif self.kind == "list":
            parts.append("list [a,b]")
        if self.choices:
            parts.append("one of " + ", ".join(self.choices) if self.kind != "list"
                         else "items from " + ", ".join(self.choices))
        unit = " h" if self.kind == "duration" else ""
        if self.lo is not None and self.hi is not None:
            left = "(" if self.lo_open else "["
            parts.append(f"in {left}{self.lo:g}, {self.hi:g}]{unit}")
        elif self.lo is not None:
            parts.append(f"{'>' if self.lo_open else '>='} {self.lo:g}{unit}")
        elif self.hi is not None:
            parts.append(f"<= {self.hi:g}{unit}")
        return "; ".join(parts)


@dataclass(frozen=True)
class GroupChoice:
    """A config group the config uses, and the option chosen.

    Attributes:
        key: what the command line names: ``scenario``, ``insider/strategy``,
            ``detector@detectors.audit``.
        group: the group's directory under conf/ (``detector``).
        options: the options (YAML files) of the group.
        default: the option the config composes to without an override of this key
            (None: unset, e.g. ``firm``).
    """

    key: str
    group: str
    options: tuple[str, ...]
    default: str | None

    @property
    def package(self) -> str | None:
        """The config key the option is placed at (``detectors.audit``), if not the group's."""
        return self.key.split("@", 1)[1] if "@" in self.key else None


@dataclass
class Form:
    """The whole form for one set of group choices.

    Attributes:
        groups: the config groups, the top ones (``scenario``) first.
        fields: the fields by dotted key, in config order.
        sections: section key -> the keys of its fields.
        addable: group -> options that can be added under a new name (``detector``).
        base: the group overrides this form was composed with.
    """

    groups: list[GroupChoice]
    fields: dict[str, Field]
    sections: dict[str, list[str]]
    addable: dict[str, tuple[str, ...]]
    base: list[str]


@dataclass
class Selection:
    """What a user filled in: the input of :func:`to_overrides`.

    Attributes:
        groups: group key -> option chosen (``None`` or :data:`NONE_OPTION`: unset).
        values: field key -> the text typed (override syntax, as after ``KEY=``).
        removed: names of collections entries switched off (``detectors.external``).
        added: new entries: package key (``detectors.rotation``) -> (group, option).
    """

    groups: dict[str, str | None] = field(default_factory=dict)
    values: dict[str, str] = field(default_factory=dict)
    removed: list[str] = field(default_factory=list)
    added: dict[str, tuple[str, str]] = field(default_factory=dict)


# ============================================================================ conf/
def conf_dir() -> Path:
    """The conf/ directory ``python -m sim`` reads."""
    from sim.cli.app import CONF_DIR

    return CONF_DIR


def config_groups(conf: Path | None = None) -> dict[str, tuple[str, ...]]:
    """Every config group under conf/ (nested ones as ``insider/strategy``) -> its options."""
    conf = conf or conf_dir()
    out: dict[str, tuple[str, ...]] = {}
    for d in sorted(p for p in conf.rglob("*") if p.is_dir()):
        rel = d.relative_to(conf).as_posix()
        if rel.split("/")[0] in HIDDEN_GROUPS:
            continue
        options = tuple(sorted(p.stem for p in d.glob("*.yaml")))
        if options:
            out[rel] = options
    return out


def compose(overrides: Sequence[str], conf: Path | None = None) -> tuple[dict[str, Any],
                                                                          dict[str, Any]]:
    """Compose the config as ``python -m sim OVERRIDES`` would.

    Returns:
        The config (plain, unresolved: durations stay ``'1mo'``) and Hydra's
        ``runtime.choices`` (group key -> option).

    Raises:
        HydraException: as Hydra raises it (see :func:`validate` for the one-line form).
    """
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from omegaconf import OmegaConf

    import sim.cli.app  # noqa: F401 - registers the ${sim.cwd:} resolver the config uses

    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(str(conf or conf_dir()), version_base="1.3"):
            cfg = hydra_compose("config", overrides=list(overrides), return_hydra_config=True)
        choices = OmegaConf.to_container(cfg.hydra.runtime.choices, resolve=False)
        plain = OmegaConf.to_container(cfg, resolve=False)
        assert isinstance(plain, dict)
        plain.pop("hydra", None)
    finally:
        GlobalHydra.instance().clear()
    assert isinstance(plain, dict) and isinstance(choices, dict)
    return typing.cast(dict[str, Any], plain), typing.cast(dict[str, Any], choices)


# ============================================================================ metadata
def _import(path: str) -> Any:
    from hydra.utils import get_object

    try:
        return get_object(path)
    except Exception:  # noqa: BLE001 - an unimportable target: no metadata, validation says why
        return None


def _params_of(node: Mapping[str, Any], key: str) -> Any:
    """The dataclass (or function) whose fields describe ``node`` at ``key``, or None."""
    target = node.get("_target_")
    if isinstance(target, str):
        obj = _import(target)
        if obj is None:
            return None
        params = getattr(obj, "Params", None)
        if dataclasses.is_dataclass(params):
            return params
        return obj if callable(obj) else None
    name = SECTION_PARAMS.get(key)
    return _import(name) if name else None


def _meta_fields(params: Any) -> dict[str, tuple[Any, Any, dict[str, Any]]]:
    """name -> (annotation, default, spec metadata) of a dataclass or a function."""
    out: dict[str, tuple[Any, Any, dict[str, Any]]] = {}
    if params is None:
        return out
    if dataclasses.is_dataclass(params):
        try:
            hints = typing.get_type_hints(params)
        except Exception:  # noqa: BLE001 - unresolvable annotations: fall back to the YAML
            hints = {}
        for f in dataclasses.fields(params):
            if f.default is not dataclasses.MISSING:
                default = f.default
            elif f.default_factory is not dataclasses.MISSING:
                default = f.default_factory()
            else:
                default = dataclasses.MISSING
            out[f.name] = (hints.get(f.name, Any), default, dict(f.metadata or {}))
        return out
    try:
        sig = inspect.signature(params)
        hints = typing.get_type_hints(params)
    except (TypeError, ValueError, NameError):
        return out
    for name, p in sig.parameters.items():
        if p.kind in (p.VAR_KEYWORD, p.VAR_POSITIONAL):
            continue
        default = p.default if p.default is not p.empty else dataclasses.MISSING
        out[name] = (hints.get(name, Any), default, {})
    return out


def _kind(annotation: Any, meta: Mapping[str, Any], value: Any) -> str:
    if meta.get("duration"):
        return "duration"
    origin = typing.get_origin(annotation)
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if origin is typing.Union or str(origin) == "types.UnionType":
        kinds = {_kind(a, {}, value) for a in args}
        return kinds.pop() if len(kinds) == 1 else "text"
    if annotation is bool:
        return "bool"
    if annotation is int:
        return "int"
    if annotation is float:
        return "float"
    if annotation is str:
        return "choice" if meta.get("choices") else "text"
    if origin in (tuple, list) or annotation in (tuple, list):
        return "list"
    if annotation is Any or annotation is dataclasses.MISSING:
        return _kind_of_value(value)
    return "text"


def _kind_of_value(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    if isinstance(value, list):
        return "list"
    return "text"


# ============================================================================ override text
def render(value: Any) -> str:
    """``value`` as Hydra override text: what follows ``KEY=`` on the command line."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(render(v) for v in value) + "]"
    if isinstance(value, Mapping):
        return "{" + ",".join(f"{k}:{render(v)}" for k, v in value.items()) + "}"
    text = str(value)
    if text in ("inf", "-inf", "nan"):  # a duration's "never" reads the same as the float
        return text
    if _BARE.match(text) and text not in ("true", "false", "null") and not _numeric(text):
        return text
    # in a quoted value a backslash is literal except before a quote (or the closing quote)
    quoted = re.sub(r"(\\*)('|$)", lambda m: m.group(1) * 2 + ("\\'" if m.group(2) else ""),
                    text)
    return "'" + quoted + "'"


def _numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


# ============================================================================ building the form
def _walk(node: Mapping[str, Any], key: str, fields: dict[str, Field],
          sections: dict[str, list[str]], skip: Iterable[str] = ()) -> None:
    """Add the fields of the section ``node`` at ``key`` (recursing into sub-mappings)."""
    meta_fields = _meta_fields(_params_of(node, key))
    prefix = f"{key}." if key else ""
    sections.setdefault(key, [])  # a section before its sub-sections
    keys: list[str] = []
    for name, value in node.items():
        if name == "_target_" or name in skip:
            continue
        annotation, _default, meta = meta_fields.get(name, (Any, None, {}))
        if isinstance(value, Mapping):  # a sub-section: its own fields (and params, if any)
            _walk(value, prefix + name, fields, sections)
            continue
        keys.append(name)
        fields[prefix + name] = _field(prefix + name, key, annotation, meta, value, True)
    for name, (annotation, default, meta) in meta_fields.items():
        if name in node or name in skip or default is dataclasses.MISSING or key == "" \
                and name == "scenario":
            continue
        if isinstance(default, Mapping):
            continue  # a sub-mapping nobody set: nothing to edit until a config gives one
        fields[prefix + name] = _field(prefix + name, key, annotation, meta, default, False)
        keys.append(name)
    sections[key].extend(prefix + k for k in keys)


def _field(key: str, section: str, annotation: Any, meta: Mapping[str, Any], value: Any,
           present: bool) -> Field:
    kind = _kind(annotation, meta, value)
    if kind == "text" and annotation is Any:
        kind = _kind_of_value(value)
    choices = meta.get("choices")
    doc = meta.get("doc") or ""
    return Field(key=key, section=section, kind=kind, default=render(value), doc=doc,
                 choices=tuple(choices) if choices else None, lo=meta.get("lo"),
                 hi=meta.get("hi"), lo_open=bool(meta.get("lo_open")),
                 allow_inf=bool(meta.get("allow_inf")), present=present)


def build_form(base: Sequence[str] = (), conf: Path | None = None) -> Form:
    """The form of the config that the group overrides ``base`` compose.

    Args:
        base: group overrides (``scenario=coupang_2025``, ``+detector@detectors.x=none``,
            ``~detectors.external``), as :func:`group_overrides` makes them.

    Raises:
        SimError: ``base`` does not compose (an unknown option); the message is one line.
    """
    from hydra.errors import HydraException

    from sim.cli.app import describe_hydra_error

    groups_on_disk = config_groups(conf)
    try:
        cfg, choices = compose(base, conf)
    except HydraException as exc:
        raise ConfigError("", describe_hydra_error(exc, list(base))) from None
    groups: list[GroupChoice] = []
    for key, option in choices.items():
        group = key.split("@", 1)[0]
        if group.split("/")[0] in HIDDEN_GROUPS or group not in groups_on_disk:
            continue
        groups.append(GroupChoice(key, group, groups_on_disk[group],
                                  None if option is None else str(option)))
    # the top of the defaults tree first (scenario), nested groups after their parents
    groups.sort(key=lambda g: (g.key != "scenario", g.package is not None, g.key.count("/"),
                               g.key))
    # a group used only through a package (detector@detectors.X) can be added under a new name
    packaged = {g.group for g in groups if g.package}
    addable = {g: groups_on_disk[g] for g in sorted(packaged)}
    fields: dict[str, Field] = {}
    sections: dict[str, list[str]] = {}
    _walk(cfg, "", fields, sections, skip=MANAGED_KEYS)
    sections = {k: v for k, v in sections.items() if v}
    return Form(groups=groups, fields=fields, sections=sections, addable=addable,
                base=list(base))


# ============================================================================ form -> overrides
def group_overrides(selection: Selection, conf: Path | None = None) -> list[str]:
    """The group overrides of ``selection``: only choices that differ from what the config
    composes to without them, parents first (a scenario before the groups it sets), then
    removed and added entries."""
    out: list[str] = []
    removed = [f"~{name}" for name in selection.removed]
    added = []
    for package, (group, option) in selection.added.items():
        _check_name(package)
        added.append(f"+{group}@{package}={option}")
    wanted = dict(selection.groups)
    order = sorted(wanted, key=lambda k: (k != "scenario", "@" in k, k.count("/"), k))
    for key in order:
        option = wanted[key]
        option = None if option in (None, NONE_OPTION, "") else option
        if any(key.endswith("@" + r[1:]) for r in removed):
            continue
        try:
            _, choices = compose(out + removed + added, conf)
        except Exception:  # noqa: BLE001 - validate() reports why; emit what was asked
            choices = {}
        if key in choices and choices[key] == option:
            continue
        out.append(f"{key}={'null' if option is None else option}")
    return out + removed + added


def _check_name(package: str) -> None:
    parts = package.split(".")
    if len(parts) != 2 or not _NAME.match(parts[1]):
        raise ConfigError(package, "a new entry needs a name of lower-case letters, digits and "
                                   "_ (e.g. detectors.rotation)")


def value_overrides(form: Form, values: Mapping[str, str]) -> list[str]:
    """``KEY=VALUE`` for every field whose text differs from its default (``+KEY=VALUE`` for
    a key the composed config does not hold); untouched fields give nothing."""
    out = []
    for key, f in form.fields.items():
        if key not in values:
            continue
        text = str(values[key]).strip()
        if text == f.default or text == "":
            continue
        out.append(f"{'' if f.present else '+'}{key}={text}")
    return out


def to_overrides(selection: Selection, conf: Path | None = None) -> tuple[list[str], Form]:
    """The exact overrides of ``python -m sim`` for ``selection``, and the form they use.

    Raises:
        ConfigError: a value names a key the form does not have, or uses what the explorer
            refuses (see :func:`check_safe`).
    """
    base = group_overrides(selection, conf)
    form = build_form(base, conf)
    # values of fields the current choices do not have (a removed detector's) are dropped
    overrides = base + value_overrides(form, selection.values)
    for override in overrides:
        check_safe(override)
    return overrides, form


def check_safe(override: str) -> None:
    """Refuse what a browser may not ask of the server, in one line naming the key.

    Allowed: one value per key (no sweep), no ``${...}`` interpolation (``${oc.env:...}`` would
    read the server's environment), no ``_target_`` (a class is chosen by picking an option,
    and ``build_model`` accepts only the allowed classes in any case), no ``hydra.`` keys.

    Raises:
        ConfigError: naming the key and what is refused.
    """
    from hydra.core.override_parser.overrides_parser import OverridesParser

    key = override.lstrip("+~").split("=", 1)[0]
    if "${" in override:
        raise ConfigError(key, "interpolations (${...}) are not accepted by the explorer; "
                               "give a value")
    if "_target_" in override:
        raise ConfigError(key, "_target_ cannot be set in the explorer; pick a config option "
                               "instead")
    if key.startswith("hydra") or key.split(".")[0] in MANAGED_KEYS:
        raise ConfigError(key, "is set by the explorer itself")
    try:
        parsed = OverridesParser.create().parse_overrides([override])[0]
    except Exception as exc:  # noqa: BLE001 - Hydra's grammar errors, in one line
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(key, f"cannot parse {override!r}: {first}") from None
    if parsed.is_sweep_override():
        raise ConfigError(key, "one value only (a list of values is a sweep: run it with "
                               "python -m sim -m); quote a list as [a,b]")


# ============================================================================ validation
@dataclass(frozen=True)
class Problem:
    """A one-line error and the field it belongs to (``""``: the form as a whole)."""

    field: str
    message: str


def field_of(key: str, keys: Iterable[str]) -> str:
    """The form field an error's key belongs to: the key itself, the longest field key it
    starts with (``insider.profile`` for ``insider.profile[3]``), or ``""``."""
    key = key.lstrip("+~").split("=", 1)[0]
    best = ""
    for k in keys:
        if (key == k or key.startswith(k + ".") or key.startswith(k + "[")) and \
                len(k) > len(best):
            best = k
    return best


def validate(overrides: Sequence[str], form: Form | None = None,
             conf: Path | None = None) -> Problem | None:
    """Check ``overrides`` along the command line's path; the first problem, or None.

    Hydra composes the config (its errors become the CLI's one line,
    :func:`sim.cli.app.describe_hydra_error`), :func:`sim.cli.app.plain_config` resolves it,
    :func:`sim.cli.app.check_job` runs ``run_job``'s checks (the policy layer, ``build_model``
    with :mod:`sim.core.limits`, the app options), and :func:`check_bounds` the explorer's
    bound on replications x horizon.
    """
    from hydra.errors import HydraException

    from sim.cli.app import check_job, describe_hydra_error, plain_config

    keys = [*form.fields, *(g.key for g in form.groups)] if form is not None else []
    try:
        for override in overrides:
            check_safe(override)
        try:
            from hydra import compose as hydra_compose
            from hydra import initialize_config_dir
            from hydra.core.global_hydra import GlobalHydra

            GlobalHydra.instance().clear()
            try:
                with initialize_config_dir(str(conf or conf_dir()), version_base="1.3"):
                    cfg = hydra_compose("config", overrides=list(overrides))
            finally:
                GlobalHydra.instance().clear()
        except HydraException as exc:
            message = describe_hydra_error(exc, list(overrides))
            return Problem(field_of(message.split(":", 1)[0], keys), message)
        plain = plain_config(cfg)
        model = check_job(plain)
        check_bounds(model.run.replications, model.run.horizon)
    except SimError as err:
        key = getattr(err, "key", "") or ""
        return Problem(field_of(key, keys), str(err))
    return None


def check_bounds(replications: int, horizon_hours: float) -> None:
    """Refuse a run bigger than the explorer serves (:mod:`sim.core.limits`).

    Raises:
        ConfigError: on ``replications`` or ``horizon``, saying the bound and why.
    """
    from sim.core.limits import (
        MAX_EXPLORER_REPLICATION_YEARS,
        MAX_EXPLORER_REPLICATIONS,
    )
    from sim.core.timeunits import YEAR

    if replications > MAX_EXPLORER_REPLICATIONS:
        raise ConfigError("replications", f"at most {MAX_EXPLORER_REPLICATIONS} in the "
                                          f"explorer (a shared server; sim.core.limits), got "
                                          f"{replications}; run larger jobs with python -m sim")
    years = replications * horizon_hours / YEAR
    if years > MAX_EXPLORER_REPLICATION_YEARS:
        raise ConfigError("horizon", f"replications x horizon is {years:.4g} years; the "
                                     f"explorer runs at most {MAX_EXPLORER_REPLICATION_YEARS:g}"
                                     f" (a shared server; sim.core.limits): use fewer "
                                     f"replications or a shorter horizon, or python -m sim")


# ============================================================================ the command
def command(overrides: Sequence[str], run_dir: str | Path | None = None,
            python: str = "python") -> str:
    """The shell command that runs the same job at a terminal (each override quoted for the
    shell; with ``run_dir``, writing there)."""
    args = [python, "-m", "sim", *overrides]
    if run_dir is not None:
        args.append(f"hydra.run.dir={run_dir}")
    return " ".join(shlex.quote(a) for a in args)
