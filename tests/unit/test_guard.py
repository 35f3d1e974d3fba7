"""The outer guard sheds load with the error envelope instead of queueing without bound."""

from __future__ import annotations

import asyncio

import httpx
from starlette.responses import PlainTextResponse
from starlette.types import Receive, Scope, Send

from crisis_triage.service import ErrorBody
from crisis_triage.service._errors import GuardMiddleware


def test_requests_past_the_limit_get_503_with_retry_after() -> None:
    release = asyncio.Event()

    async def slow_app(scope: Scope, receive: Receive, send: Send) -> None:
        await release.wait()
        await PlainTextResponse("done")(scope, receive, send)

    guard = GuardMiddleware(slow_app, max_body_bytes=1024, max_in_flight=2)

    async def run() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=guard)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            first = [asyncio.create_task(client.get("/v1/queue")) for _ in range(2)]
            await asyncio.sleep(0.05)
            shed = await client.get("/v1/queue")
            streaming = asyncio.create_task(client.get("/v1/alerts/stream"))
            await asyncio.sleep(0.05)
            release.set()
            return [*(await asyncio.gather(*first)), shed, await streaming]

    ok_a, ok_b, shed, stream = asyncio.run(run())
    assert (ok_a.status_code, ok_b.status_code, stream.status_code) == (200, 200, 200)
    assert shed.status_code == 503
    assert shed.headers["retry-after"] == "1"
    assert ErrorBody.model_validate(shed.json()).error.code == "unavailable"
    assert guard.in_flight == 0
