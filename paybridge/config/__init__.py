"""Configuration: the chain and asset registry, merchant keys, quote policy, database URL.

Loaded from TOML and validated with pydantic so that a typo in an address or a missing
decimals field fails at start-up with the path of the bad key, not at 3 a.m. in a DAG run.
``model`` holds the validated types, ``merge`` how a file combines with the built-ins,
``merchant_keys`` which xpub each chain uses (public test keys refused), ``load`` the order.
"""

from paybridge.config.load import default_config_text, load_config
from paybridge.config.model import (
    CONFIG_ENV,
    DATABASE_URL_ENV,
    DEFAULT_CONFIG_FILE,
    DEFAULT_DATABASE_URL,
    ApiConfig,
    AssetConfig,
    ChainConfig,
    ConfigError,
    DatabaseConfig,
    FinalityPolicy,
    MerchantConfig,
    NotificationsConfig,
    PayBridgeConfig,
    QuoteConfig,
    RateConfig,
    SettlementPolicy,
    WebhooksConfig,
)
from paybridge.config.portal import PortalConfig

__all__ = [
    "CONFIG_ENV",
    "DATABASE_URL_ENV",
    "DEFAULT_CONFIG_FILE",
    "DEFAULT_DATABASE_URL",
    "ApiConfig",
    "AssetConfig",
    "ChainConfig",
    "ConfigError",
    "DatabaseConfig",
    "FinalityPolicy",
    "MerchantConfig",
    "NotificationsConfig",
    "PayBridgeConfig",
    "PortalConfig",
    "QuoteConfig",
    "RateConfig",
    "SettlementPolicy",
    "WebhooksConfig",
    "default_config_text",
    "load_config",
]
