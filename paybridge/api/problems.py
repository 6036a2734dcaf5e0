"""Errors as RFC 9457 problem details (``application/problem+json``)."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException

from paybridge.orders.create import OrderRefused

PROBLEM_TYPE_BASE = "https://paybridge.dev/problems/"
MEDIA_TYPE = "application/problem+json"


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[dict[str, Any]] | None = None


class ApiProblem(Exception):
    def __init__(
        self, status: int, title: str, detail: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.title = title
        self.detail = detail
        self.headers = headers or {}


def problem_response(
    request: Request,
    status: int,
    title: str,
    detail: str,
    *,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    slug = title.lower().replace(" ", "-").replace("/", "-")
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + "".join(c for c in slug if c.isalnum() or c == "-"),
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
    }
    if errors is not None:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


def install(app: FastAPI) -> None:
    """Every error the API gives, including FastAPI's own, is a problem document."""

    @app.exception_handler(ApiProblem)
    async def _api_problem(request: Request, exc: ApiProblem) -> JSONResponse:
        return problem_response(request, exc.status, exc.title, exc.detail, headers=exc.headers)

    @app.exception_handler(OrderRefused)
    async def _refused(request: Request, exc: OrderRefused) -> JSONResponse:
        return problem_response(request, exc.status, exc.title, str(exc))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return invalid_body(request, exc.errors())

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        logging.getLogger("paybridge.api").exception("unexpected error on %s", request.url.path)
        return problem_response(
            request,
            500,
            "Internal error",
            f"{type(exc).__name__}: the server could not complete this request; nothing was "
            "committed. Retry with the same Idempotency-Key; if it persists, see the server log",
        )

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> JSONResponse:
        title = {404: "Not found", 405: "Method not allowed"}.get(exc.status_code, "HTTP error")
        return problem_response(request, exc.status_code, title, str(exc.detail))


def invalid_body(request: Request, raw_errors: Any) -> JSONResponse:
    errors = [
        {
            "field": ".".join(str(part) for part in err.get("loc", ()) if part != "body"),
            "message": err.get("msg", ""),
        }
        for err in raw_errors
    ]
    detail = "; ".join(f"{e['field'] or 'body'}: {e['message']}" for e in errors)
    return problem_response(
        request, 422, "Invalid request", f"{detail}; fix these fields and resend", errors=errors
    )
