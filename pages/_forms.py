"""Form widgets generated from the request dataclasses (``core.requests``): one widget per field, with the
field's label, help, choices, minimum and default, so a page and the command line cannot drift apart."""

from __future__ import annotations

from typing import Any

import streamlit as st

from core.requests import base_type, choices_of

NONE_LABEL = "default"


def field_widget(container: Any, cls: type, name: str, key: str, value: Any = None, label: str | None = None) -> Any:
    """A widget for ``cls``'s field ``name`` inside ``container``; ``value`` overrides the default shown first.

    A key the session state already holds (a filled-in recipe) gives the widget its value, so no default is passed
    then: Streamlit warns about a widget given both."""
    f = cls.__dataclass_fields__[name]
    meta = f.metadata
    label = label or meta.get("label") or name.replace("_", " ")
    default = f.default if value is None else value
    help_text = meta.get("help")
    typ = base_type(cls, name)
    choices = choices_of(cls, name)
    preset = key in st.session_state

    def initial(**kw: Any) -> dict:
        return {} if preset else kw

    if choices is not None:
        index = choices.index(default) if default in choices else 0
        fmt = lambda c: NONE_LABEL if c is None else str(c)  # noqa: E731
        return container.selectbox(label, choices, **initial(index=index), key=key, help=help_text, format_func=fmt)
    if typ is bool:
        return container.checkbox(label, **initial(value=bool(default)), key=key, help=help_text)
    if typ is int:
        minimum = None if meta.get("minimum") is None else int(meta["minimum"])
        return container.number_input(
            label, min_value=minimum, **initial(value=default), step=1, key=key, help=help_text
        )
    if typ is float:
        minimum = None if meta.get("minimum") is None else float(meta["minimum"])
        start = None if default is None else float(default)
        return container.number_input(
            label, min_value=minimum, **initial(value=start), format="%.4g", key=key, help=help_text
        )
    return container.text_input(label, **initial(value=default or ""), key=key, help=help_text) or None
