"""Property names of the records the simulator models, from the REST API Browser's schemas.

With ``X-NetSuite-PropertyNameValidation: Error`` an unknown name is refused; with ``Warning``
(the documented default) or ``Ignore`` it is dropped. Names NetSuite knows but the simulator does
not model are accepted and ignored, so the simulator is never stricter than NetSuite.
"""

from __future__ import annotations

from typing import Any

from simulators.netsuite.errors import RecordError

# Columns each SuiteQL table exposes (custom fields cust* are always allowed); README.md cites them.
SUITEQL_COLUMNS: dict[str, frozenset[str]] = {
    "transaction": frozenset(
        [
            "id",
            "type",
            "tranid",
            "entity",
            "currency",
            "trandate",
            "duedate",
            "foreigntotal",
            "foreignamountunpaid",
            "foreignamountpaid",
            "status",
            "externalid",
            "lastmodifieddate",
            "memo",
            "exchangerate",
            "postingperiod",
            "posting",
            "voided",
            "approvalstatus",
            "createdfrom",
        ]
    ),
    "transactionline": frozenset({"id", "transaction", "mainline", "subsidiary", "entity"}),
    "transactionaccountingline": frozenset(
        [
            "transaction",
            "transactionline",
            "accountingbook",
            "account",
            "debit",
            "credit",
            "amount",
            "netamount",
            "posting",
            "exchangerate",
            "amountunpaid",
        ]
    ),
    "customer": frozenset(
        {
            "id",
            "entityid",
            "companyname",
            "currency",
            "subsidiary",
            "lastmodifieddate",
            "externalid",
        }
    ),
    "currency": frozenset({"id", "symbol", "name"}),
    "subsidiary": frozenset({"id", "name", "currency"}),
    "account": frozenset(
        {"id", "acctnumber", "acctname", "accttype", "sspecacct", "currency", "isinactive"}
    ),
    "accountsubsidiarymap": frozenset({"account", "subsidiary"}),
    "accountingperiod": frozenset(
        [
            "id",
            "periodname",
            "startdate",
            "enddate",
            "closed",
            "arlocked",
            "aplocked",
            "alllocked",
            "isposting",
            "isquarter",
            "isyear",
            "isadjust",
        ]
    ),
}
_TRANSACTION = {
    "id", "externalId", "tranId", "tranDate", "postingPeriod", "subsidiary", "currency",
    "exchangeRate", "memo", "class", "department", "location", "customForm", "createdDate",
    "lastModifiedDate", "links", "refName", "status", "transactionNumber", "nexus",
    "accountingBookDetail", "excludeFromGLNumbering", "primaryBookBaseCurrency",
}  # fmt: skip
RECORD_FIELDS: dict[str, set[str]] = {
    "customer": {
        "id", "externalId", "entityId", "companyName", "currency", "subsidiary", "email",
        "phone", "isPerson", "firstName", "lastName", "terms", "links", "refName",
        "dateCreated", "lastModifiedDate", "isInactive", "addressBook", "category",
    },
    "invoice": _TRANSACTION | {
        "entity", "total", "amount", "dueDate", "account", "item", "amountRemaining",
        "amountPaid", "terms", "otherRefNum",
    },
    "customerPayment": _TRANSACTION | {
        "customer", "payment", "account", "undepFunds", "arAcct", "autoApply", "apply",
        "credit", "deposit", "applied", "unapplied", "total", "balance", "pending",
        "checkNumber", "paymentOption", "cleared", "clearedDate", "toBeEmailed",
    },
    "journalEntry": _TRANSACTION | {
        "approved", "approvalStatus", "line", "isReversal", "reversalDate", "reversalDefer",
        "toSubsidiary", "accountingBook", "isBookSpecific", "nextApprover", "void",
    },
}  # fmt: skip
SUBLIST_FIELDS: dict[tuple[str, str], set[str]] = {
    ("customerPayment", "apply"): {
        "amount", "apply", "applyDate", "createdFrom", "currency", "doc", "due", "job",
        "jobName", "line", "links", "refName", "refNum", "total", "type",
    },
    ("customerPayment", "credit"): {
        "amount", "appliedTo", "apply", "createdFrom", "creditDate", "currency", "doc", "due",
        "line", "links", "refName", "refNum", "total", "type",
    },
    ("journalEntry", "line"): {
        "account", "credit", "debit", "entity", "memo", "line", "class", "department",
        "location", "eliminate", "links", "refName", "cleared", "clearedDate", "grossAmt",
        "taxCode", "startDate", "endDate",
    },
}  # fmt: skip


def _custom(name: str) -> bool:
    return name.startswith(("custbody", "custcol", "custentity"))


def unknown_names(record_type: str, body: dict[str, Any]) -> list[str]:
    """JSON paths of every property NetSuite would not know on this record."""
    known = RECORD_FIELDS.get(record_type, set())
    bad = [k for k in body if k not in known and not _custom(k)]
    for (rtype, sublist), fields in SUBLIST_FIELDS.items():
        value = body.get(sublist) if rtype == record_type else None
        if not isinstance(value, dict):
            continue
        bad += [f"{sublist}.{k}" for k in value if k not in ("items", "links")]
        for i, item in enumerate(value.get("items") or []):
            if isinstance(item, dict):
                bad += [
                    f"{sublist}.items[{i}].{k}" for k in item if k not in fields and not _custom(k)
                ]
    return bad


def check_names(record_type: str, body: dict[str, Any], mode: str) -> dict[str, Any]:
    """Refuse (mode ``error``) or drop (``warning``/``ignore``) unknown property names."""
    bad = unknown_names(record_type, body)
    if not bad:
        return body
    if mode == "error":
        raise RecordError(
            400,
            "INVALID_CONTENT",
            f"Error while accessing a resource. Invalid property name {bad[0]!r} on "
            f"{record_type}: the record has no such field.",
            bad[0],
        )
    top = {p for p in bad if "." not in p}
    return {k: v for k, v in body.items() if k not in top}
