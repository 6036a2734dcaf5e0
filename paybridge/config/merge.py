"""How a config file combines with the built-in defaults, and how it removes built-ins.

Tables merge key by key; ``[[chains]]`` merge by ``name`` and ``[[assets]]`` by
(``chain``, ``symbol``). Merging alone could only ever add, so a local chain inherited built-in
token addresses it does not have. Three keys say otherwise, explicitly:

- ``builtin_chains = false`` (top level): the built-in chains and assets are not used at all;
  the file lists every chain and asset it wants.
- ``replace = true`` on a chain or asset entry: the entry replaces the built-in one with the
  same identity instead of being merged into it (no inherited keys).
- ``enabled = false`` on a chain entry removes the chain and every asset on it; on an asset
  entry it removes that asset.
"""

from __future__ import annotations

from typing import Any

from paybridge.config.model import ConfigError

ENTRY_LISTS = ("chains", "assets")
BUILTIN_CHAINS_KEY = "builtin_chains"


def _ident(entry: dict[str, Any], kind: str) -> Any:
    return entry.get("name") if kind == "chains" else (entry.get("chain"), entry.get("symbol"))


def _label(entry: dict[str, Any], kind: str) -> str:
    if kind == "chains":
        return f"chains[{entry.get('name')}]"
    return f"assets[{entry.get('chain')}/{entry.get('symbol')}]"


def _flag(entry: dict[str, Any], key: str, kind: str, source: str) -> bool:
    value = entry.get(key, key == "enabled")
    if not isinstance(value, bool):
        raise ConfigError(
            f"{source}: {_label(entry, kind)}.{key} must be true or false, not {value!r}"
        )
    return value


def merge_config(defaults: dict[str, Any], user: dict[str, Any], source: str) -> dict[str, Any]:
    """The defaults with ``user`` applied, built-ins removed or replaced as the file says."""
    user = dict(user)
    builtin = user.pop(BUILTIN_CHAINS_KEY, True)
    if not isinstance(builtin, bool):
        raise ConfigError(f"{source}: {BUILTIN_CHAINS_KEY} must be true or false, not {builtin!r}")
    base = dict(defaults)
    if not builtin:
        base.update({kind: [] for kind in ENTRY_LISTS})
    merged = _deep_merge(base, user, source)
    declared = {_ident(a, "assets") for a in user.get("assets", []) if isinstance(a, dict)}
    return _drop_disabled(merged, declared, source)


def _deep_merge(base: dict[str, Any], override: dict[str, Any], source: str) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value, source)
        elif key in ENTRY_LISTS and isinstance(value, list):
            merged[key] = _merge_entries(merged.get(key, []), value, key, source)
        else:
            merged[key] = value
    return merged


def _merge_entries(
    base: list[dict[str, Any]], override: list[Any], kind: str, source: str
) -> list[Any]:
    result: dict[Any, Any] = {_ident(e, kind): e for e in base}
    extra: list[Any] = []  # not a table: left for validation to name
    for entry in override:
        if not isinstance(entry, dict):
            extra.append(entry)
            continue
        entry = dict(entry)
        replace = _flag(entry, "replace", kind, source)
        entry.pop("replace", None)
        key = _ident(entry, kind)
        result[key] = entry if replace else _deep_merge(result.get(key, {}), entry, source)
    return [*result.values(), *extra]


def _drop_disabled(data: dict[str, Any], declared: set[Any], source: str) -> dict[str, Any]:
    """Remove entries with ``enabled = false``, and the assets of a disabled chain."""
    chains, assets = data.get("chains", []), data.get("assets", [])
    disabled: set[Any] = set()
    kept_chains = []
    for chain in chains:
        if isinstance(chain, dict):
            if not _flag(chain, "enabled", "chains", source):
                disabled.add(chain.get("name"))
                continue
            chain = {k: v for k, v in chain.items() if k != "enabled"}
        kept_chains.append(chain)
    kept_assets = []
    for asset in assets:
        if isinstance(asset, dict):
            if not _flag(asset, "enabled", "assets", source):
                continue
            if asset.get("chain") in disabled:
                if _ident(asset, "assets") in declared:
                    raise ConfigError(
                        f"{source}: {_label(asset, 'assets')}: chain {asset.get('chain')!r} "
                        "is disabled (enabled = false); remove the asset or enable the chain"
                    )
                continue  # a built-in asset of a chain the file switched off
            asset = {k: v for k, v in asset.items() if k != "enabled"}
        kept_assets.append(asset)
    data = dict(data)
    if "chains" in data:
        data["chains"] = kept_chains
    if "assets" in data:
        data["assets"] = kept_assets
    return data
