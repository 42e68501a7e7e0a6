"""The tools an agent node gives the LLM: remembering a value, leaving for another node, and
the node's webhook tools."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bridge.dialplan.schema import Agent, WebhookTool
from bridge.dialplan.template import render
from bridge.dialplan.webhooks import WebhookError, call_webhook
from bridge.engine.config import FunctionTool
from bridge.json_limits import DEFAULT_MAX_DEPTH


def agent_tools(
    node: Agent,
    variables: dict[str, Any],
    exit_to: Callable[[str], None],
    max_depth: int = DEFAULT_MAX_DEPTH,
) -> dict[str, tuple[FunctionTool, Any]]:
    """The tools an agent node adds to the built-in ones, with their handlers (webhook replies
    nested deeper than ``max_depth`` are a failed tool call)."""
    tools: dict[str, tuple[FunctionTool, Any]] = {}

    async def set_variable(arguments: dict[str, Any]) -> dict[str, Any]:
        variables[str(arguments["name"])] = arguments.get("value")
        return {"status": "done"}

    tools["set_variable"] = (
        FunctionTool(
            "set_variable",
            "Remember a value for the rest of the call.",
            {
                "type": "object",
                "properties": {"name": {"type": "string"}, "value": {"type": "string"}},
                "required": ["name", "value"],
            },
        ),
        set_variable,
    )
    if node.exits:

        async def goto_node(arguments: dict[str, Any]) -> dict[str, Any]:
            target = str(arguments["node"])
            if target not in node.exits:
                raise ValueError(f"choose one of {', '.join(node.exits)}")
            exit_to(target)
            return {"status": "done"}

        tools["goto_node"] = (
            FunctionTool(
                "goto_node",
                "Leave the conversation and continue the call flow at one of these steps.",
                {
                    "type": "object",
                    "properties": {"node": {"type": "string", "enum": list(node.exits)}},
                    "required": ["node"],
                },
            ),
            goto_node,
        )
    for webhook in node.tools:
        tools[webhook.name] = (
            FunctionTool(webhook.name, webhook.description, webhook.parameters),
            _webhook_handler(webhook, variables, max_depth),
        )
    return tools


def _webhook_handler(tool: WebhookTool, variables: dict[str, Any], max_depth: int) -> Any:
    async def handler(arguments: dict[str, Any]) -> dict[str, Any]:
        url = render(tool.url, variables)
        headers = {k: render(v, variables) for k, v in tool.headers.items()}
        try:
            result = await call_webhook(
                url, tool.method, headers, arguments, tool.timeout_s, max_depth=max_depth
            )
        except WebhookError as exc:
            return {"status": "failed", "error": str(exc)}
        return result if isinstance(result, dict) else {"result": result}

    return handler
