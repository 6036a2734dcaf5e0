"""Loading a configuration: built-in ``defaults.toml`` < the file given (or ``./paybridge.toml``)
< environment; merged (``merge``), validated (``model``), merchant keys checked (``merchant_keys``).
"""

from __future__ import annotations

import os
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from paybridge.config.merchant_keys import check_all_chain_keys
from paybridge.config.merge import merge_config
from paybridge.config.model import CONFIG_ENV, DEFAULT_CONFIG_FILE, ConfigError, PayBridgeConfig
from paybridge.secrets_guard import refuse_private_material, scan_mapping


def default_config_text() -> str:
    return resources.files("paybridge").joinpath("defaults.toml").read_text(encoding="utf-8")


def load_config(path: str | Path | None = None) -> PayBridgeConfig:
    """Load defaults, then the given file (or $PAYBRIDGE_CONFIG, or ./paybridge.toml if present).

    Refuses, with :class:`ConfigError`, a chain whose merchant xpub is invalid or a public test
    key (see :mod:`paybridge.merchant_keys`).
    """
    data: dict[str, Any] = tomllib.loads(default_config_text())
    chosen = path or os.environ.get(CONFIG_ENV)
    if chosen is None and Path(DEFAULT_CONFIG_FILE).exists():
        chosen = DEFAULT_CONFIG_FILE
    if chosen is not None:
        # a key pasted where the path goes must not come back in "config file ... not found"
        refuse_private_material(str(chosen), f"--config / ${CONFIG_ENV}")
        file = Path(chosen)
        if not file.exists():
            raise ConfigError(f"config file {file} not found; run `paybridge init` to create one")
        try:
            user = tomllib.loads(file.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{file}: invalid TOML: {exc}") from exc
        scan_mapping(user)
    else:
        user = {}
    data = merge_config(data, user, str(chosen or "defaults"))
    try:
        config = PayBridgeConfig.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            ": ".join(filter(None, (".".join(str(p) for p in err["loc"]), err["msg"])))
            for err in exc.errors()
        )
        raise ConfigError(f"invalid configuration ({chosen or 'defaults'}): {problems}") from exc
    check_all_chain_keys(config)
    return config
