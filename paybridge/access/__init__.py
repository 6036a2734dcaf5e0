"""Who may call PayBridge: API keys (machines) hashed with a server key kept outside the
database, their scopes, and the per-key request budget."""
