"""The floor peer of the API benchmark: the least an HTTP endpoint that writes can do here.

A Starlette app (what FastAPI is built on) under the same uvicorn settings, whose one POST
endpoint parses the JSON body and INSERTs one row in one transaction on the same database, with
the same engine settings as the API. Whatever create-order costs above this is PayBridge's own
work (authentication, quoting, derivation, audit, outbox); what this endpoint reaches on the
machine at that moment is the ceiling the API's figure is compared with.
"""

from __future__ import annotations

import json
import uuid

import sqlalchemy as sa
from sqlalchemy.engine import Engine

_META = sa.MetaData()
FLOOR_TABLE = sa.Table(
    "bench_floor_orders",
    _META,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("amount", sa.String(40), nullable=False),
    sa.Column("body", sa.Text, nullable=False),
)


def app_from_env():  # type: ignore[no-untyped-def]
    """uvicorn's factory in each floor worker: the database of ``$PAYBRIDGE_BENCH_FLOOR_URL``
    with the engine the benchmark gives in-process peers."""
    import os

    from benchmarks.api_bench import _engine

    return floor_app(_engine(os.environ["PAYBRIDGE_BENCH_FLOOR_URL"]))


def floor_app(engine: Engine):  # type: ignore[no-untyped-def]
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    _META.create_all(engine)

    async def create(request: Request) -> JSONResponse:
        body = json.loads(await request.body())
        row = {"id": uuid.uuid4().hex, "amount": str(body["amount"]), "body": json.dumps(body)}

        def insert() -> None:
            with engine.begin() as conn:
                conn.execute(FLOOR_TABLE.insert().values(**row))

        await run_in_threadpool(insert)
        return JSONResponse({"payment_id": row["id"]}, status_code=201)

    async def healthz(_request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    return Starlette(
        routes=[
            Route("/v1/payments/create-order", create, methods=["POST"]),
            Route("/healthz", healthz),
        ]
    )
