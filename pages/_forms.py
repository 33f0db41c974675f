"""Form widgets generated from the request dataclasses (``core.requests``): one widget per field, with the
field's label, help, choices, minimum and default, so a page and the command line cannot drift apart."""

from __future__ import annotations

from typing import Any

from core.requests import base_type, choices_of

NONE_LABEL = "default"


def field_widget(container: Any, cls: type, name: str, key: str, value: Any = None, label: str | None = None) -> Any:
    """A widget for ``cls``'s field ``name`` inside ``container``; ``value`` overrides the default shown first."""
    f = cls.__dataclass_fields__[name]
    meta = f.metadata
    label = label or meta.get("label") or name.replace("_", " ")
    default = f.default if value is None else value
    help_text = meta.get("help")
    typ = base_type(cls, name)
    choices = choices_of(cls, name)
    if choices is not None:
        index = choices.index(default) if default in choices else 0
        fmt = lambda c: NONE_LABEL if c is None else str(c)  # noqa: E731
        return container.selectbox(label, choices, index=index, key=key, help=help_text, format_func=fmt)
    if typ is bool:
        return container.checkbox(label, value=bool(default), key=key, help=help_text)
    if typ is int:
        minimum = meta.get("minimum")
        return container.number_input(
            label, min_value=None if minimum is None else int(minimum), value=default, step=1, key=key, help=help_text
        )
    if typ is float:
        minimum = meta.get("minimum")
        return container.number_input(
            label,
            min_value=None if minimum is None else float(minimum),
            value=None if default is None else float(default),
            format="%.4g",
            key=key,
            help=help_text,
        )
    return container.text_input(label, value=default or "", key=key, help=help_text) or None
