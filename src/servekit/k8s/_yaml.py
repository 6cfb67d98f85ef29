"""A block-style YAML writer for plain data (dicts, lists, strings, numbers, booleans).

servekit has no YAML library among its dependencies; kustomize reads this output. Every
string is written JSON-quoted, which YAML reads back as the same string.
"""

from __future__ import annotations

import json

__all__ = ["to_yaml"]


def to_yaml(value: object, indent: str = "") -> str:
    """Block-style YAML of plain data; strings are JSON-quoted (valid YAML scalars)."""
    if isinstance(value, dict):
        if not value:
            return "{}\n"
        lines = []
        for key, item in value.items():
            if isinstance(item, (dict, list)) and item:
                lines.append(f"{indent}{key}:\n{to_yaml(item, indent + '  ')}")
            else:
                lines.append(f"{indent}{key}: {to_yaml(item).strip()}\n")
        return "".join(lines)
    if isinstance(value, list):
        if not value:
            return "[]\n"
        items = []
        for item in value:
            if isinstance(item, (dict, list)) and item:
                text = to_yaml(item, indent + "  ")
                items.append(f"{indent}- {text[len(indent) + 2 :]}")
            else:
                items.append(f"{indent}- {to_yaml(item).strip()}\n")
        return "".join(items)
    return json.dumps(value) + "\n"
