"""The server's background loop delivers notices only when KABUGUARD_NOTIFY_IN_APP is
on; at scale a separate `kabuguard notify dispatch --loop` process does it. It also
picks up the freezes and the risk engine's events other processes recorded."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from kabuguard.web import app as web_app


class Recorder:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def __getattr__(self, name: str):  # a stand-in service: each method records its name
        def call(*_args, **_kwargs):
            self.calls.append(name)
            return 0
        return call


class FakeServices:
    def __init__(self, in_app: bool) -> None:
        self.settings = type("S", (), {"notify_in_app": in_app})()
        self.broker = self.removals = self.relay = self.dispatcher = Recorder()
        self.freezes = self.broker


class FakeDecisionApi:
    def __init__(self, log: Recorder) -> None:
        self.risk = True
        self.log = log


@pytest.mark.parametrize(("in_app", "dispatched"), [(True, True), (False, False)])
def test_dispatch_follows_the_setting(in_app, dispatched):
    services = FakeServices(in_app)

    async def one_pass() -> None:
        task = asyncio.create_task(web_app._background(
            services, FakeDecisionApi(services.broker), 60))
        await asyncio.sleep(0.2)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    asyncio.run(one_pass())
    calls = services.broker.calls
    assert {"run_due_orders", "run_due_removals", "relay_once", "load", "refresh"} <= set(calls)
    assert ("dispatch_once" in calls) is dispatched


def test_the_loop_brings_the_desk_alert_queue_up_to_date():
    services = FakeServices(False)
    desk = Recorder()

    async def one_pass() -> None:
        task = asyncio.create_task(web_app._background(
            services, FakeDecisionApi(services.broker), 60, desk))
        await asyncio.sleep(0.2)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    asyncio.run(one_pass())
    assert desk.calls == ["sync"]
