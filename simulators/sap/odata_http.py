"""The HTTP side of the OData service: service document, $metadata, entity set, $count, one
entity by key; server-driven paging with __next and $skiptoken."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from simulators.sap import odata

if TYPE_CHECKING:
    from simulators.sap.server import SAPServer


def answer(
    server: SAPServer,
    host: str,
    accept: str,
    path: str,
    query: dict[str, list[str]],
    headers: dict[str, str],
) -> tuple[int, bytes, str, dict[str, str]] | None:
    with server.counters.lock:
        server.counters.odata_requests += 1
    rest = path[len(odata.SERVICE_ROOT.rstrip("/")) :].lstrip("/")
    if rest == "$metadata":
        return 200, odata.metadata_bytes(), "application/xml", headers
    wants_json = query.get("$format", [""])[0] == "json" or "json" in accept
    if rest == "":
        return (
            200,
            json.dumps({"d": {"EntitySets": [odata.ENTITY_SET]}}).encode(),
            "application/json",
            headers,
        )
    if not rest.startswith(odata.ENTITY_SET):
        raise odata.ODataError(
            404, "/IWBEP/CM_MGW_RT/025", f"Resource not found for segment '{rest}'"
        )
    if not wants_json:
        raise odata.ODataError(
            406,
            "/IWBEP/CM_MGW_RT/006",
            "The simulator serves JSON only: send $format=json or Accept: application/json",
        )
    segment = rest[len(odata.ENTITY_SET) :]
    filter_text = query.get("$filter", [""])[0]
    orderby = query.get("$orderby", [""])[0]
    selected = odata.parse_select(query.get("$select", [""])[0])
    rows = server.cube(filter_text, orderby)
    if segment == "/$count":
        return 200, str(len(rows)).encode(), "text/plain", headers
    if segment.startswith("("):
        return _entity(server, host, segment, selected, headers)
    if segment:
        raise odata.ODataError(
            404, "/IWBEP/CM_MGW_RT/025", f"Resource not found for segment '{rest}'"
        )
    skip = odata.int_option(query, "$skiptoken") or odata.int_option(query, "$skip") or 0
    top = odata.int_option(query, "$top")
    limit = server.page_size if top is None else min(top, server.page_size)
    page = rows[skip : skip + limit]
    base = f"http://{host}"
    payload: dict[str, Any] = {"results": [odata.entity_json(r, selected, base) for r in page]}
    if query.get("$inlinecount", [""])[0] == "allpages":
        payload["__count"] = str(len(rows))
    remaining = (
        (len(rows) - skip - len(page))
        if top is None
        else min(top - len(page), len(rows) - skip - len(page))
    )
    if remaining > 0 and page and len(page) == limit:
        params = {k: v[0] for k, v in query.items() if k not in ("$skip", "$skiptoken", "$top")}
        params["$skiptoken"] = str(skip + len(page))
        if top is not None:
            params["$top"] = str(top - len(page))
        payload["__next"] = f"{base}{path}?{urlencode(params)}"
    return (
        200,
        json.dumps({"d": payload}, separators=(",", ":")).encode(),
        "application/json; charset=utf-8",
        headers,
    )


def _entity(
    server: SAPServer, host: str, segment: str, selected: list[str], headers: dict[str, str]
) -> tuple[int, bytes, str, dict[str, str]]:
    inner = segment[1:].split(")")[0]
    keys = {}
    for part in inner.split(","):
        name, _, value = part.partition("=")
        keys[name.strip()] = value.strip().strip("'")
    for row in server.cube("", ""):
        if all(str(row.get(k)) == v for k, v in keys.items()) and len(keys) == 4:
            base = f"http://{host}"
            body = json.dumps({"d": odata.entity_json(row, selected, base)}).encode()
            return 200, body, "application/json; charset=utf-8", headers
    raise odata.ODataError(
        404,
        "/IWBEP/CM_MGW_RT/020",
        f"Resource not found for segment 'A_OperationalAcctgDocItemCube({inner})'",
    )
