"""Roles and what each may do, on the command line and through the API.

One table, read by the CLI gate and the API, walked whole by a test. A command missing from
the table is admin-only (fail closed). ``PUBLIC`` commands touch no store (or authenticate on
their own, as the API server does per request).
"""

from __future__ import annotations

ROLES = ("finance_ops", "erp_admin", "approver", "auditor", "admin")

PUBLIC = frozenset({"*"})
EVERYONE = frozenset(ROLES)
FINANCE = frozenset({"finance_ops", "admin"})
ERP = frozenset({"erp_admin", "admin"})
OPERATIONS = frozenset({"finance_ops", "erp_admin", "admin"})
APPROVERS = frozenset({"approver", "admin"})
ADMIN = frozenset({"admin"})

COMMANDS: dict[str, frozenset[str]] = {
    "init": PUBLIC,
    "api": PUBLIC,
    "addresses derive": PUBLIC,
    "reconcile-files": PUBLIC,
    "sim netsuite": PUBLIC,
    "sim sap": PUBLIC,
    "invoices import": FINANCE,
    "invoices list": EVERYONE,
    "invoices show": EVERYONE,
    "requests create": FINANCE,
    "requests list": EVERYONE,
    "requests show": EVERYONE,
    "requests mark": FINANCE,
    "requests expire": OPERATIONS,
    "requests gaps": EVERYONE,
    "audit verify": EVERYONE,
    "audit log": EVERYONE,
    "audit checkpoint": ADMIN,
    "audit rotate-key": ADMIN,
    "audit seal-legacy": ADMIN,
    "erp test-connection": ERP,
    "erp sync": ERP,
    "erp quarantine": EVERYONE,
    "settle": ERP,
    "watch": OPERATIONS,
    "receipts list": EVERYONE,
    "reconcile": FINANCE,
    "exceptions list": EVERYONE,
    "exceptions show": EVERYONE,
    "exceptions propose": FINANCE,
    "exceptions approve": APPROVERS,
    "exceptions reject": APPROVERS,
    "tieout chain": OPERATIONS,
    "tieout erp": OPERATIONS,
    "report period": EVERYONE,
    "status": EVERYONE,
    "settlements list": EVERYONE,
    "settlements show": EVERYONE,
    "settlements requeue": ERP,
    "api-keys create": ADMIN,
    "api-keys list": ADMIN,
    "api-keys revoke": ADMIN,
    "users add": ADMIN,
    "users list": ADMIN,
    "users revoke": ADMIN,
    "webhooks add": ADMIN,
    "webhooks list": ADMIN,
    "webhooks deliveries": ADMIN,
    "webhooks redeliver": ADMIN,
    "webhooks rotate-secret": ADMIN,
    "webhooks deliver": OPERATIONS,
    "notify send": OPERATIONS,
}

#: What a person's token may do through the API (the same scopes as API keys).
ROLE_SCOPES: dict[str, frozenset[str]] = {
    "finance_ops": frozenset({"payments:write", "payments:read", "reports:read"}),
    "erp_admin": frozenset({"payments:read", "reports:read"}),
    "approver": frozenset({"payments:read", "reports:read"}),
    "auditor": frozenset({"payments:read", "reports:read"}),
    "admin": frozenset({"admin"}),
}


def command_roles(path: str) -> frozenset[str]:
    return COMMANDS.get(path, ADMIN)


def may_run(role: str, path: str) -> bool:
    allowed = command_roles(path)
    return allowed is PUBLIC or role in allowed
