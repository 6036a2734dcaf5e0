"""X-API-Key authentication, scope checks and the per-key request budget (``api.ratelimit``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session

from paybridge.access.api_keys import Caller, authenticate
from paybridge.access.roles import ROLE_SCOPES
from paybridge.access.users import authenticate_token
from paybridge.api.problems import ApiProblem
from paybridge.store.db import transaction


@dataclass(frozen=True)
class Credentials:
    """What a request presented, not yet checked (see ``presented``)."""

    api_key: str | None
    bearer: str
    scope: str


_KEY_HEADER = Annotated[str | None, Header(description="Your API key")]
_TOKEN_HEADER = Annotated[
    str | None, Header(description="`Bearer <personal token>` of a PayBridge user")
]


async def caller(
    request: Request, x_api_key: _KEY_HEADER = None, authorization: _TOKEN_HEADER = None
) -> Caller:
    """The authenticated caller of this request (401 without a valid key, 429 over budget).

    Machines send ``X-API-Key``; people may send their personal token as a bearer token,
    which gets the scopes of their role. Async, with only the lookup in a worker thread: one
    thread hop per request instead of one per dependency."""
    state = request.app.state
    bearer = _bearer(x_api_key, authorization)
    who = await run_in_threadpool(_lookup, state, x_api_key, bearer)
    return _admitted(state, who)


def _bearer(x_api_key: str | None, authorization: str | None) -> str:
    """The bearer token sent (may be empty); 401 when neither credential was sent."""
    bearer = (authorization or "").removeprefix("Bearer ").strip()
    if not x_api_key and not bearer:
        raise ApiProblem(
            401,
            "Missing API key",
            "send your API key in the X-API-Key header",
            {"WWW-Authenticate": "ApiKey"},
        )
    return bearer


def _admitted(state: Any, who: Caller | None) -> Caller:
    """``who`` if it is a caller within its budget: else 401 (unknown) or 429 (over budget)."""
    if who is None:
        raise ApiProblem(
            401,
            "Invalid API key",
            "the X-API-Key is unknown or revoked: create one with `paybridge api-keys create`",
            {"WWW-Authenticate": "ApiKey"},
        )
    wait = state.limiter.take(who.key_id)
    if wait:
        raise ApiProblem(
            429,
            "Too many requests",
            f"API key {who.key_id} is over its budget of {state.config.api.rate_limit_per_minute}"
            " requests per minute; retry after the Retry-After seconds",
            {"Retry-After": str(max(1, round(wait)))},
        )
    return who


def _lookup(state: Any, x_api_key: str | None, bearer: str) -> Caller | None:
    if x_api_key:  # one statement on a connection of its own, no transaction around it
        with state.read_engine.connect() as connection:
            return authenticate(connection, state.server_key, x_api_key)
    with transaction(state.engine) as session:
        return _person(session, state, bearer)


def _person(session: Session, state: Any, bearer: str) -> Caller | None:
    person = authenticate_token(session, state.server_key, bearer)
    return person and Caller(person.id, person.name, ROLE_SCOPES[person.role], True)


def _allowed(who: Caller, scope: str) -> Caller:
    if not who.allows(scope):
        raise ApiProblem(
            403,
            "Missing scope",
            f"API key {who.key_id} lacks the scope {scope}; create a key with `--scope {scope}`",
        )
    return who


def require(scope: str) -> Callable[..., Any]:
    """A dependency: the caller, who must hold ``scope`` (or admin)."""

    async def check(who: Annotated[Caller, Depends(caller)]) -> Caller:
        return _allowed(who, scope)

    return check


def presented(scope: str) -> Callable[..., Any]:
    """A dependency for an endpoint that checks the caller in its own transaction
    (``authorize``): only a missing credential is refused here (401).

    Why: create-order then looks the key up with one statement on the connection its
    transaction uses anyway, instead of a thread hop, a pooled connection and a round trip of
    its own before it; revocation still takes effect on the next request. Same headers, same
    answers (401, 429, 403, in that order) as ``require``."""

    async def check(
        x_api_key: _KEY_HEADER = None, authorization: _TOKEN_HEADER = None
    ) -> Credentials:
        return Credentials(x_api_key, _bearer(x_api_key, authorization), scope)

    return check


def authorize(
    session: Session, state: Any, credentials: Credentials, memo: dict[Any, Any] | None = None
) -> Caller:
    """The caller of ``credentials`` looked up in ``session`` (in a worker thread), within its
    budget and holding the scope, else the problem ``require`` would answer.

    ``memo``: API keys already looked up in this transaction (a batch of orders, most of them
    sent with the same key, looks each key up once); the budget is still taken per request."""
    if credentials.api_key:
        key = ("api_key", credentials.api_key)
        if memo is not None and key in memo:
            who = memo[key]
        else:
            who = authenticate(session.connection(), state.server_key, credentials.api_key)
            if memo is not None:
                memo[key] = who
    else:
        who = _person(session, state, credentials.bearer)
    return _allowed(_admitted(state, who), credentials.scope)
