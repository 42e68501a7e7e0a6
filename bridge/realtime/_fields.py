"""Small validators for decoded JSON, raising :class:`CommandError` with OpenAI's wording.

Every helper takes the dotted ``param`` path of the value so the error names the exact field.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

from bridge.engine import errors
from bridge.engine.errors import CommandError

JsonObject = dict[str, Any]

_T = TypeVar("_T", bound=str)


def join(prefix: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{prefix}[{key}]"
    return f"{prefix}.{key}" if prefix else key


def type_name(value: object) -> str:
    # Checked in this order because bool is an int and int is acceptable where a float is.
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a decimal"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _quote_all(values: Iterable[str]) -> str:
    quoted = [f"'{v}'" for v in values]
    if len(quoted) <= 2:
        return " and ".join(quoted)
    return ", ".join(quoted[:-1]) + ", and " + quoted[-1]


def missing(param: str) -> CommandError:
    return CommandError(errors.MISSING_PARAMETER, f"Missing required parameter: '{param}'.", param)


def invalid_type(param: str, expected: str, value: object) -> CommandError:
    return CommandError(
        errors.INVALID_TYPE,
        f"Invalid type for '{param}': expected {expected}, but got {type_name(value)} instead.",
        param,
    )


def invalid_value(
    param: str, value: object, supported: Iterable[str] | None = None, reason: str | None = None
) -> CommandError:
    message = f"Invalid value: '{value}'."
    if supported is not None:
        message += f" Supported values are: {_quote_all(supported)}."
    if reason:
        message += f" {reason}"
    return CommandError(errors.INVALID_VALUE, message, param)


def require(obj: Mapping[str, Any], key: str, prefix: str) -> Any:
    if key not in obj:
        raise missing(join(prefix, key))
    return obj[key]


def expect_object(value: object, param: str) -> JsonObject:
    if not isinstance(value, dict):
        raise invalid_type(param, "an object", value)
    return value


def expect_list(value: object, param: str, *, max_length: int | None = None) -> list[Any]:
    if not isinstance(value, list):
        raise invalid_type(param, "an array", value)
    if max_length is not None and len(value) > max_length:
        raise CommandError(
            errors.ARRAY_ABOVE_MAX_LENGTH,
            f"Invalid '{param}': array too long. Expected an array with maximum length "
            f"{max_length}, but got an array with length {len(value)} instead.",
            param,
        )
    return value


def expect_str(value: object, param: str, *, max_length: int | None = None) -> str:
    if not isinstance(value, str):
        raise invalid_type(param, "a string", value)
    if max_length is not None and len(value) > max_length:
        raise CommandError(
            errors.STRING_ABOVE_MAX_LENGTH,
            f"Invalid '{param}': string too long. Expected a string with maximum length "
            f"{max_length}, but got a string with length {len(value)} instead.",
            param,
        )
    return value


def expect_bool(value: object, param: str) -> bool:
    if not isinstance(value, bool):
        raise invalid_type(param, "a boolean", value)
    return value


def expect_int(
    value: object, param: str, *, minimum: int | None = None, maximum: int | None = None
) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid_type(param, "an integer", value)
    if minimum is not None and value < minimum:
        raise CommandError(
            errors.INTEGER_BELOW_MIN,
            f"Invalid '{param}': integer below minimum value. Expected a value >= {minimum}, "
            f"but got {value} instead.",
            param,
        )
    if maximum is not None and value > maximum:
        raise CommandError(
            errors.INTEGER_ABOVE_MAX,
            f"Invalid '{param}': integer above maximum value. Expected a value <= {maximum}, "
            f"but got {value} instead.",
            param,
        )
    return value


def expect_number(
    value: object, param: str, *, minimum: float | None = None, maximum: float | None = None
) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise invalid_type(param, "a decimal", value)
    try:
        number = float(value)
    except OverflowError:  # an integer past float's range (JSON allows 10**400)
        number = float("inf")
    if number != number or number in (float("inf"), float("-inf")):
        raise invalid_value(param, value, reason="Expected a finite number.")
    if minimum is not None and number < minimum:
        raise CommandError(
            errors.DECIMAL_BELOW_MIN,
            f"Invalid '{param}': decimal below minimum value. Expected a value >= {minimum}, "
            f"but got {value} instead.",
            param,
        )
    if maximum is not None and number > maximum:
        raise CommandError(
            errors.DECIMAL_ABOVE_MAX,
            f"Invalid '{param}': decimal above maximum value. Expected a value <= {maximum}, "
            f"but got {value} instead.",
            param,
        )
    return number


def expect_choice(value: object, param: str, choices: tuple[_T, ...]) -> _T:
    if not isinstance(value, str):
        raise invalid_type(param, "a string", value)
    for choice in choices:
        if value == choice:
            return choice
    raise invalid_value(param, value, choices)


def optional_str(obj: Mapping[str, Any], key: str, prefix: str) -> str | None:
    """A string field where absent and ``null`` both mean "not given"."""
    value = obj.get(key)
    return None if value is None else expect_str(value, join(prefix, key))


def decode_base64(value: object, param: str) -> bytes:
    """Strict base64 (the realtime API's audio encoding); the error never echoes the payload."""
    text = expect_str(value, param)
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise CommandError(
            errors.INVALID_VALUE,
            f"Invalid '{param}': expected base64-encoded audio bytes.",
            param,
        ) from None
