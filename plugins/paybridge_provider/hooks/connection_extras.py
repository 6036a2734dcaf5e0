"""Reading a Connection's extra the way both Airflow UIs and ``AIRFLOW_CONN_*`` store it."""

from __future__ import annotations

import json
from typing import Any


def plain_extra(extra: dict[str, Any], conn_type: str) -> dict[str, Any]:
    """Extra fields by plain name: the legacy ``extra__<type>__<field>`` prefix removed, empty
    UI fields dropped, JSON typed into text boxes (accounts) parsed."""
    prefix = f"extra__{conn_type}__"
    fields: dict[str, Any] = {}
    for key, value in extra.items():
        name = key.removeprefix(prefix)
        if value in (None, ""):
            continue
        if name == "accounts" and isinstance(value, str):
            try:
                value = json.loads(value)
            except json.JSONDecodeError as exc:
                raise ValueError(
                    f"connection field 'accounts' is not valid JSON ({exc}); paste the accounts "
                    'object as JSON, e.g. {"1": {...}}'
                ) from exc
        fields[name] = value
    return fields
