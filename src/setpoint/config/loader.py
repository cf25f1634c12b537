"""The only place the configuration file is read.

Every problem is reported at once, each with its YAML path
(``services.web.probe.timeout: ...``), as one :class:`~setpoint.errors.ConfigError`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from setpoint.config.models import Config
from setpoint.errors import ConfigError, PluginError
from setpoint.plugins import Registry


def format_loc(loc: Sequence[int | str]) -> str:
    """A pydantic error location as a YAML path.

    >>> format_loc(("playbooks", 0, "do", 1, "action"))
    'playbooks[0].do[1].action'
    >>> format_loc(())
    '(top level)'
    """
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def _problems(exc: ValidationError, prefix: Sequence[int | str] = ()) -> list[str]:
    problems = []
    for err in exc.errors():
        msg = err["msg"].removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            msg = "unknown field"
        problems.append(f"{format_loc([*prefix, *err['loc']])}: {msg}")
    return problems


def parse_config(
    text: str,
    source: str = "<config>",
    actuators: Registry[Any] | None = None,
) -> Config:
    """Validate configuration text; raise ConfigError listing every problem."""
    try:
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "?"
        raise ConfigError([f"{where}: invalid YAML: {exc.problem}"], source) from exc
    except yaml.YAMLError as exc:
        raise ConfigError([f"invalid YAML: {exc}"], source) from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(["(top level): must be a mapping of sections"], source)
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_problems(exc), source) from exc
    problems = _check_references(config, actuators or default_actuators())
    if problems:
        raise ConfigError(problems, source)
    return config


def load_config(path: Path, actuators: Registry[Any] | None = None) -> Config:
    """Read and validate the configuration file at ``path``."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"cannot read the file: {exc.strerror or exc}"], str(path)) from exc
    except UnicodeDecodeError as exc:
        raise ConfigError([f"not UTF-8 text: {exc.reason}"], str(path)) from exc
    return parse_config(text, str(path), actuators)


def default_actuators() -> Registry[Any]:
    """The actuator registry as declared by installed entry points."""
    return Registry("actuator", "setpoint.actuators")


def default_detectors() -> Registry[Any]:
    """The detector registry as declared by installed entry points."""
    return Registry("detector", "setpoint.detectors")


def _check_references(config: Config, actuators: Registry[Any]) -> list[str]:
    """Checks across sections: services named anywhere, actions and their params."""
    problems: list[str] = []
    known = ", ".join(sorted(config.services)) or "none"
    named = [
        *((f"playbooks[{i}].when.service", p.when.service) for i, p in enumerate(config.playbooks)),
        *((f"thresholds[{i}].service", t.service) for i, t in enumerate(config.thresholds)),
        *(
            (f"forecast.series[{i}].service", getattr(s, "service", None))
            for i, s in enumerate(config.forecast.series)
        ),
    ]
    for place, service in named:
        if service is not None and service not in config.services:
            problems.append(f"{place}: no service named {service!r} (known: {known})")
    for i, playbook in enumerate(config.playbooks):
        for j, step in enumerate(playbook.steps):
            where = ("playbooks", i, "do" if playbook.do else "candidates", j)
            try:
                actuators.config_for(step.action, step.params)
            except ValidationError as exc:
                problems.extend(_problems(exc, where))
            except PluginError as exc:
                problems.append(f"{format_loc([*where, 'action'])}: {exc}")
    for section in ("mode_by_action", "limits"):
        for action in getattr(config.gate, section):
            if action not in actuators:
                known = ", ".join(actuators.names()) or "none"
                problems.append(f"gate.{section}.{action}: no actuator named {action!r} ({known})")
    names = [p.name for p in config.playbooks]
    for i, name in enumerate(names):
        if name in names[:i]:
            problems.append(f"playbooks[{i}].name: {name!r} is used twice")
    return problems
