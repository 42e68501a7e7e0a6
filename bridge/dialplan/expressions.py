"""The small, safe expression language of ``branch`` conditions.

``pin == '1234'``, ``attempts >= 3 and not vip``, ``balance > 100``, ``lang in ['en', 'fr']``:
comparisons, ``and``/``or``/``not``, variables, strings, numbers, booleans and lists. Nothing
else parses, so a dialplan cannot run code.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable, Mapping
from typing import Any

_COMPARE: dict[type[ast.cmpop], Callable[[Any, Any], bool]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.In: lambda a, b: a in b,
    ast.NotIn: lambda a, b: a not in b,
}


class ExpressionError(ValueError):
    pass


def parse(expression: str) -> ast.expr:
    try:
        tree = ast.parse(expression, mode="eval").body
    except SyntaxError as exc:
        raise ExpressionError(f"cannot parse condition {expression!r}: {exc.msg}") from None
    _check(tree, expression)
    return tree


def _check(node: ast.AST, source: str) -> None:
    allowed = (ast.BoolOp, ast.And, ast.Or, ast.UnaryOp, ast.Not, ast.USub, ast.Compare,
               ast.Name, ast.Load, ast.Constant, ast.List, ast.Tuple, *_COMPARE)  # fmt: skip
    for child in ast.walk(node):
        if not isinstance(child, allowed):
            name = type(child).__name__
            raise ExpressionError(f"{name} is not allowed in a condition: {source!r}")


def evaluate(expression: str, variables: Mapping[str, Any]) -> bool:
    return bool(_eval(parse(expression), variables))


def _number_or_text(value: Any) -> Any:
    # Gathered input arrives as text: compare "42" with 42 as numbers.
    if isinstance(value, str):
        try:
            return float(value) if "." in value else int(value)
        except ValueError:
            return value
    return value


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _eval(node: ast.expr, variables: Mapping[str, Any]) -> Any:
    if isinstance(node, ast.BoolOp):
        values = (_eval(v, variables) for v in node.values)
        return all(values) if isinstance(node.op, ast.And) else any(values)
    if isinstance(node, ast.UnaryOp):
        operand = _eval(node.operand, variables)
        if isinstance(node.op, ast.USub):
            return -operand if isinstance(operand, int | float) else None
        return not operand
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        return variables.get(node.id)
    if isinstance(node, ast.List | ast.Tuple):
        return [_eval(element, variables) for element in node.elts]
    assert isinstance(node, ast.Compare)
    left = _eval(node.left, variables)
    for op, right_node in zip(node.ops, node.comparators, strict=True):
        right = _eval(right_node, variables)
        a, b = left, right
        # Gathered input is text: "42" meets the number 42 as a number, but two texts stay
        # texts (a PIN "0042" is not "42").
        if _is_number(a) != _is_number(b):
            a, b = _number_or_text(a), _number_or_text(b)
        try:
            if not _COMPARE[type(op)](a, b):
                return False
        except TypeError:
            return False  # comparing a missing variable with a number is simply false
        left = right
    return True
