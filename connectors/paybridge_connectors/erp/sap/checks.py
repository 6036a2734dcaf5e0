"""``test_connection`` for both SAP connectors: one probe, its failure told apart for an admin.

401 = bad credentials (or wrong client), 403 = the user lacks an authorisation, no answer =
unreachable. The S/4 probe also sends an *empty* journal entry request to the posting and
clearing services: SAP checks the service authorisation before the payload, so a 403 means
"may not post", while the schema fault an authorised user gets proves access without posting.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from paybridge_connectors.erp.protocol import (
    ConnectionCheck,
    ConnectionProblem,
    ErpAuthError,
    ErpError,
    ErpRejectedError,
    ErpUnavailableError,
)
from paybridge_connectors.erp.sap.soap import SFIN, SOAP11

EMPTY_REQUEST = (
    f'<soapenv:Envelope xmlns:soapenv="{SOAP11}" xmlns:sfin="{SFIN}"><soapenv:Body>'
    "<sfin:{root}/></soapenv:Body></soapenv:Envelope>"
)


def run_check(
    probe: Callable[[], Any], ok_message: str, details: dict[str, Any], where: str
) -> ConnectionCheck:
    try:
        probe()
    except ErpAuthError as exc:
        problem = (
            ConnectionProblem.BAD_CREDENTIALS
            if exc.status == 401
            else ConnectionProblem.MISSING_PERMISSIONS
        )
        return ConnectionCheck(problem, str(exc), {**details, "code": exc.code})
    except ErpUnavailableError as exc:
        return ConnectionCheck(
            ConnectionProblem.UNREACHABLE,
            f"SAP at {details.get('endpoint')} is unreachable or failing: "
            f"{exc.__cause__ or exc}. Check {where}, DNS, proxy and firewall.",
            details,
        )
    except ErpError as exc:
        return ConnectionCheck(ConnectionProblem.UNEXPECTED, str(exc), details)
    return ConnectionCheck(ConnectionProblem.OK, ok_message, details)


def may_post(send: Callable[[str, bytes, str], Any], path: str, root: str) -> None:
    """Send an empty (schema-invalid) request: a SOAP fault or a refusal in the answer means
    the service accepted us; ErpAuthError (403) propagates."""
    try:
        send(path, EMPTY_REQUEST.format(root=root).encode(), root)
    except ErpAuthError:
        raise
    except ErpRejectedError:
        return
