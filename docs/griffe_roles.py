"""Griffe extensions for the API reference.

- :class:`SphinxRoles`: Sphinx roles in docstrings (``:class:`Theorem```, ``:func:`~a.b.f```)
  become cross-references. The docstrings keep the roles (they read well in ``help()`` and
  IDEs); here each role turns into an optional autoref: a link where the target is documented,
  plain code where it is not.
- :class:`CommentDocstrings`: ``#:`` comments above a module constant (``ENV_IDS``,
  ``REALS_AXIOMS``...) become its docstring, as Sphinx reads them.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import griffe

ROLE = re.compile(r":(?:class|func|meth|mod|attr|data|exc|obj):`(~?)([\w.]+)`")


def _lookup(scope: griffe.Object, name: str) -> str | None:
    head, _, rest = name.partition(".")
    obj: Any = scope
    while obj is not None:
        member = obj.members.get(head)
        if member is not None:
            target = member.target_path if member.is_alias else member.path
            return f"{target}.{rest}" if rest else target
        obj = obj.parent
    return None


def _rewrite(obj: griffe.Object, text: str) -> str:
    def link(m: re.Match[str]) -> str:
        short, name = m.group(1) == "~", m.group(2)
        identifier = _lookup(obj, name) or name
        title = name.rsplit(".", 1)[-1] if short else name
        return f'<autoref identifier="{identifier}" optional><code>{title}</code></autoref>'

    return ROLE.sub(link, text)


class SphinxRoles(griffe.Extension):
    """Rewrite Sphinx roles in every docstring of a loaded package."""

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        stack: list[griffe.Object] = [pkg]
        while stack:
            obj = stack.pop()
            if obj.docstring is not None and ":`" in obj.docstring.value:
                obj.docstring.value = _rewrite(obj, obj.docstring.value)
            stack.extend(m for m in obj.members.values() if not m.is_alias)


class CommentDocstrings(griffe.Extension):
    """Give an attribute without a docstring the ``#:`` comment lines just above it."""

    def on_attribute_instance(self, *, attr: griffe.Attribute, **kwargs: Any) -> None:
        if attr.docstring is not None or attr.lineno is None:
            return
        filepath = attr.filepath
        lines = (
            attr.lines_collection[filepath]
            if isinstance(filepath, Path) and filepath in attr.lines_collection
            else None
        )
        if not lines:
            return
        comment: list[str] = []
        index = attr.lineno - 2  # the line above the assignment, 0-based
        while index >= 0 and lines[index].lstrip().startswith("#:"):
            comment.insert(0, lines[index].lstrip()[2:].strip())
            index -= 1
        if comment:
            attr.docstring = griffe.Docstring(
                "\n".join(comment), lineno=index + 2, endlineno=attr.lineno - 1, parent=attr
            )
