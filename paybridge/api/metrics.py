"""``GET /metrics``: the figures of ``paybridge status`` in Prometheus' text format.

One registry per scrape, filled from ``collect_status`` (the same function as the CLI and the
monitoring DAG), so the three never disagree and nothing is kept between scrapes. A figure
that is unknown (no head yet, Airflow's database not configured) is left out, not reported as 0.

Auth: the figures are counts, ages and block heights labelled with chain names, ERP Connection
ids and DAG ids; no amount, address, customer or invoice. A scraper on the same host (loopback,
where `paybridge api` listens by default) needs no key; any other client must present an API
key (``X-API-Key`` or ``Authorization: Bearer``) or a personal token holding the
``metrics:read`` scope (or admin). prometheus-client is imported here only, on a scrape.
"""

from __future__ import annotations

import ipaddress
import os
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request, Response

from paybridge.access.api_keys import Caller, authenticate
from paybridge.access.roles import ROLE_SCOPES
from paybridge.access.users import authenticate_token
from paybridge.api.problems import ApiProblem
from paybridge.health import StatusReport
from paybridge.store.db import transaction

SCOPE = "metrics:read"
AIRFLOW_DB_ENV = "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"
router = APIRouter()


def _loopback(request: Request) -> bool:
    host = request.client.host if request.client else ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _authorised(request: Request, x_api_key: str | None, authorization: str | None) -> None:
    if _loopback(request):
        return
    state = request.app.state
    presented = x_api_key or (authorization or "").removeprefix("Bearer ").strip()
    if not presented:
        raise ApiProblem(
            401,
            "Missing API key",
            f"/metrics from another host needs an API key with the {SCOPE} scope "
            f"(`paybridge api-keys create --scope {SCOPE}`), sent as X-API-Key or Bearer",
            {"WWW-Authenticate": "ApiKey"},
        )
    with transaction(state.engine) as session:
        who = authenticate(session, state.server_key, presented)
        if who is None:
            person = authenticate_token(session, state.server_key, presented)
            who = person and Caller(person.id, person.name, ROLE_SCOPES[person.role], True)
    if who is None:
        raise ApiProblem(401, "Invalid API key", "the key or token is unknown or revoked")
    if not who.allows(SCOPE):
        raise ApiProblem(403, "Missing scope", f"key {who.key_id} lacks the scope {SCOPE}")


def exposition(report: StatusReport) -> bytes:
    """The report as Prometheus text (one fresh registry: no state between scrapes)."""
    from prometheus_client import CollectorRegistry, Gauge, generate_latest

    registry = CollectorRegistry()

    def gauge(name: str, doc: str, labels: tuple[str, ...] = ()) -> Gauge:
        return Gauge(f"paybridge_{name}", doc, labels, registry=registry)

    def put(metric: Gauge, value: Any, *labels: str) -> None:
        if value is not None:
            metric.labels(*labels).set(value)

    def single(name: str, doc: str, value: Any) -> None:
        """An unlabelled gauge would show 0 when unknown: registered only with a value."""
        if value is not None:
            gauge(name, doc).set(value)

    chain = ("chain",)
    head = gauge("chain_head_block", "Latest block the node reported", chain)
    cursor = gauge("chain_cursor_block", "Last block the watcher scanned", chain)
    lag = gauge("chain_lag_blocks", "Blocks between the head and the cursor", chain)
    lag_s = gauge("chain_lag_seconds", "Seconds since the watcher last advanced", chain)
    final = gauge("chain_finalized_block", "Highest finalized block recorded", chain)
    stalled = gauge("chain_finality_stalled", "1 when finality stalled or the chain halted", chain)
    for c in report.chains:
        name = c["chain"]
        put(head, c["head"], name)
        put(cursor, c["cursor"], name)
        put(lag, c["lag_blocks"], name)
        put(lag_s, c["lag_seconds"], name)
        put(final, c["finalized"], name)
        put(stalled, 1 if c["finality"] == "stalled" else 0, name)

    conn = ("connection",)
    pending = gauge("settlements_pending", "Settlements waiting to post", conn)
    pending_age = gauge(
        "settlement_oldest_pending_seconds", "Age of the oldest settlement waiting", conn
    )
    attention = gauge("settlements_needs_attention", "Settlements needing attention", conn)
    attention_age = gauge(
        "settlement_oldest_needs_attention_seconds",
        "Age of the oldest settlement needing attention",
        conn,
    )
    for s in report.settlements:
        put(pending, s["pending"], s["connection"])
        put(pending_age, s["oldest_pending_seconds"], s["connection"])
        put(attention, s["needs_attention"], s["connection"])
        put(attention_age, s["oldest_needs_attention_seconds"], s["connection"])

    exceptions = gauge("open_exceptions", "Open reconciliation exceptions by age", ("age",))
    for bucket in ("under_1h", "1h_to_1d", "over_1d"):
        put(exceptions, report.open_exceptions.get(bucket, 0), bucket)
    single(
        "open_exception_oldest_seconds",
        "Age of the oldest open exception",
        report.open_exceptions.get("oldest_seconds"),
    )

    dags = report.dags
    single(
        "airflow_metadata_available",
        "1 when Airflow's metadata DB was read",
        1 if dags.get("available") else 0,
    )
    last = gauge(
        "dag_last_success_age_seconds", "Seconds since the DAG's last successful run", ("dag_id",)
    )
    for dag_id, row in sorted((dags.get("last_success") or {}).items()):
        put(last, row.get("age_seconds"), dag_id)
    single("status_breaches", "Thresholds of [status] crossed now", len(report.breaches))
    return generate_latest(registry)


@router.get("/metrics", include_in_schema=False)
def metrics(
    request: Request,
    x_api_key: Annotated[str | None, Header()] = None,
    authorization: Annotated[str | None, Header()] = None,
) -> Response:
    from prometheus_client import CONTENT_TYPE_LATEST

    from paybridge.health import collect_status

    _authorised(request, x_api_key, authorization)
    state = request.app.state
    report = collect_status(
        state.engine, state.config, airflow_db_url=os.environ.get(AIRFLOW_DB_ENV) or None
    )
    return Response(exposition(report), media_type=CONTENT_TYPE_LATEST)
