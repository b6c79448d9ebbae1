"""The district's routing and SLA policy: a versioned YAML file, validated at start.

Errors name the file, the line and the field, e.g.
`policy.yaml:14: categories[2].first_level: must be one of community, street, district`.
routing uses all of it; intake uses the category list to refuse unknown categories.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

DEFAULT_POLICY = Path(__file__).parent / "policies" / "370402.yaml"

LevelName = Literal["community", "street", "district"]


class Category(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(pattern=r"^[a-z][a-z0-9_]{1,63}$")
    name: str = Field(min_length=1, description="Chinese name, e.g. 家庭电路故障")
    first_level: LevelName = "community"
    department: str = Field("", description="Department code when a department handles it")
    skill: str = Field("", description="Staff skill that picks the handler, e.g. electrical")
    deadline_hours: dict[LevelName, float] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _positive_deadlines(self) -> Category:
        for level, hours in self.deadline_hours.items():
            if hours <= 0:
                raise ValueError(f"deadline_hours.{level} must be > 0")
        return self


class Policy(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: str = Field(min_length=1)
    district: str = Field(pattern=r"^\d{6}$", description="District code, e.g. 370402")
    default_deadline_hours: dict[LevelName, float] = Field(
        default_factory=lambda: {"community": 24.0, "street": 72.0, "district": 120.0}
    )
    categories: list[Category] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_codes(self) -> Policy:
        seen: set[str] = set()
        for c in self.categories:
            if c.code in seen:
                raise ValueError(f"category code {c.code!r} appears twice")
            seen.add(c.code)
        return self

    def category(self, code: str) -> Category | None:
        return next((c for c in self.categories if c.code == code), None)

    def deadline_hours(self, category: Category, level: LevelName) -> float:
        return category.deadline_hours.get(level) or self.default_deadline_hours[level]


class PolicyError(ValueError):
    """The policy file is wrong; the message names where."""


class _LineLoader(yaml.SafeLoader):
    """Remembers the line of every mapping and sequence, for error messages."""


def _construct_mapping(loader: _LineLoader, node: yaml.MappingNode) -> dict[str, Any]:
    mapping = _LineDict(loader.construct_mapping(node, deep=True))
    mapping.lines = {k.value: k.start_mark.line + 1 for k, _ in node.value}
    mapping.line = node.start_mark.line + 1
    return mapping


class _LineDict(dict[str, Any]):
    lines: dict[str, int]
    line: int


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _line_of(doc: Any, loc: tuple[int | str, ...]) -> int | None:
    node, line = doc, getattr(doc, "line", None)
    for part in loc:
        if isinstance(node, _LineDict) and isinstance(part, str) and part in node:
            line = node.lines.get(part, line)
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
            line = getattr(node, "line", line)
        else:
            break
    return line


def _path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def parse_policy(text: str, *, source: str = "<policy>") -> Policy:
    try:
        doc = yaml.load(text, Loader=_LineLoader)
    except yaml.YAMLError as exc:
        raise PolicyError(f"{source}: not valid YAML: {exc}") from exc
    if not isinstance(doc, dict):
        raise PolicyError(f"{source}: must be a mapping with version, district, categories")
    try:
        return Policy.model_validate(doc)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = tuple(p for p in err["loc"] if not isinstance(p, str) or p in _known(err))
            line = _line_of(doc, loc)
            where = f"{source}:{line}" if line else source
            problems.append(f"{where}: {_path(loc) or '(top)'}: {err['msg']}")
        raise PolicyError("\n".join(problems)) from exc


def _known(err: Any) -> set[str]:
    # pydantic adds the union member name ("literal[...]") to loc; keep only real keys.
    return {
        p for p in err["loc"] if isinstance(p, str) and not p.startswith(("literal", "function"))
    }


def load_policy(path: Path | str = DEFAULT_POLICY) -> Policy:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyError(f"{p}: cannot read: {exc.strerror}") from exc
    return parse_policy(text, source=str(p))
