"""botocore's client-side validation of nested request parameters (structures and lists).

boto3 checks a dict parameter against the service model before sending anything: a
missing required member, an unknown member or a wrong type is a ParamValidationError
listing every problem. Shapes here are declared beside the method that takes them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from engine.client.errors import ParamValidationError

_HEADER = "Parameter validation failed:\n"


@dataclass(frozen=True)
class Struct:
    """A structure: its members (name -> shape) and which of them are required."""

    members: Mapping[str, Shape] = field(default_factory=dict)
    required: tuple[str, ...] = ()


@dataclass(frozen=True)
class ListOf:
    item: Shape


class Timestamp:
    """A timestamp member: a datetime, a date, or text/epoch seconds botocore can parse."""


class Anything:
    """A member whose value is passed through without checks (ignored by this service)."""


Shape = Struct | ListOf | type[str] | type[int] | type[bool] | type[Timestamp] | type[Anything]

_TYPE_NAMES: dict[Any, str] = {
    str: "<class 'str'>",
    int: "<class 'int'>",
    bool: "<class 'bool'>",
    Timestamp: "<class 'datetime.datetime'>, <class 'str'>",
}


def validate(value: Any, shape: Shape, name: str) -> None:
    """Raise one ParamValidationError naming every problem of ``value`` (as botocore)."""
    errors: list[str] = []
    _check(value, shape, name, errors)
    if errors:
        raise ParamValidationError(_HEADER + "\n".join(errors))


def _invalid_type(name: str, value: Any, valid: str) -> str:
    return (f"Invalid type for parameter {name}, value: {value}, type: {type(value)}, "
            f"valid types: {valid}")


def _check(value: Any, shape: Shape, name: str, errors: list[str]) -> None:
    if isinstance(shape, Struct):
        if not isinstance(value, Mapping):
            errors.append(_invalid_type(name, value, "<class 'dict'>"))
            return
        for member in shape.required:
            if member not in value:
                errors.append(f'Missing required parameter in {name}: "{member}"')
        for member, item in value.items():
            if member not in shape.members:
                errors.append(f'Unknown parameter in {name}: "{member}", must be one of: '
                              f"{', '.join(shape.members)}")
            else:
                _check(item, shape.members[member], f"{name}.{member}", errors)
    elif isinstance(shape, ListOf):
        if not isinstance(value, list | tuple):
            errors.append(_invalid_type(name, value, "<class 'list'>, <class 'tuple'>"))
            return
        for i, item in enumerate(value):
            _check(item, shape.item, f"{name}[{i}]", errors)
    elif shape is Anything:
        return
    elif shape is Timestamp:
        if not isinstance(value, datetime | date | str | int | float) or isinstance(value, bool):
            errors.append(_invalid_type(name, value, _TYPE_NAMES[Timestamp]))
    elif shape is int:
        if not isinstance(value, int) or isinstance(value, bool):
            errors.append(_invalid_type(name, value, _TYPE_NAMES[int]))
    elif not isinstance(value, shape):
        errors.append(_invalid_type(name, value, _TYPE_NAMES[shape]))
