"""``create_app(settings)``: the ASGI application (customer site, JSON API, later the
operations console), with its services built once and kept on ``app.state``."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import structlog
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from kabuguard import __version__
from kabuguard.container import Services, build_services
from kabuguard.logs import configure_logging
from kabuguard.ops.desk import Desk, build_desk
from kabuguard.settings import Settings, load_settings
from kabuguard.web.api.account_security import router as api_account_security_router
from kabuguard.web.api.decisions import DecisionApi, build_decision_api
from kabuguard.web.api.decisions import router as decisions_router
from kabuguard.web.api.notifications import router as api_notifications_router
from kabuguard.web.api.recovery import router as api_recovery_router
from kabuguard.web.api.routes import router as api_router
from kabuguard.web.console.routes import ROUTERS as CONSOLE_ROUTERS
from kabuguard.web.customer.bank import router as bank_router
from kabuguard.web.customer.cash import router as cash_router
from kabuguard.web.customer.mfa_removal import router as mfa_removal_router
from kabuguard.web.customer.notifications import router as notifications_router
from kabuguard.web.customer.orders import router as orders_router
from kabuguard.web.customer.profile import router as profile_router
from kabuguard.web.customer.recovery import router as recovery_router
from kabuguard.web.customer.report import router as report_router
from kabuguard.web.customer.routes import router as customer_router
from kabuguard.web.customer.security import router as security_router
from kabuguard.web.customer.self_lock import router as self_lock_router
from kabuguard.web.customer.trade import router as trade_router
from kabuguard.web.errors import install_error_handlers
from kabuguard.web.security import SecurityHeaders

log = structlog.get_logger(__name__)


async def _background(services: Services, decision_api: DecisionApi,
                      interval_seconds: float, desk: Desk | None = None) -> None:
    """Runs due orders (market opens, limits reached), applies MFA removals whose
    cooling-off has ended, relays the outbox and delivers due notices (the
    dispatcher's claim makes it safe in every worker at once); picks up the freezes
    and the risk engine's events other processes recorded."""
    while True:
        try:
            await anyio.to_thread.run_sync(services.broker.run_due_orders)
            await anyio.to_thread.run_sync(services.removals.run_due_removals)
            await anyio.to_thread.run_sync(services.relay.relay_once)
            # Freezes and releases made by other processes (the desk, other workers).
            await anyio.to_thread.run_sync(services.freezes.load)
            if decision_api.risk:
                await anyio.to_thread.run_sync(decision_api.log.refresh)
            # The desk's alert queue: the decisions and cross-account alerts since.
            if desk is not None:
                await anyio.to_thread.run_sync(desk.sync)
            if services.settings.notify_in_app:
                await anyio.to_thread.run_sync(services.dispatcher.dispatch_once)
        except Exception:  # keep the loop alive; the error is logged with its traceback
            log.exception("background.failed")
        await asyncio.sleep(interval_seconds)


def create_app(settings: Settings, *, services: Services | None = None,
               background_interval_seconds: float | None = 2.0) -> FastAPI:
    """Build the app. ``background_interval_seconds=None`` turns the background loop
    off (tests drive ``run_due_orders`` themselves)."""
    services = services or build_services(settings)
    decision_api = build_decision_api(services)
    desk = build_desk(services, decision_api.log if decision_api.risk else None)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        # The decision API's engine state (the app's guard's too), rebuilt from its
        # event log before serving, with any app event committed but not yet decided.
        await anyio.to_thread.run_sync(decision_api.log.load)
        if decision_api.risk:
            await anyio.to_thread.run_sync(decision_api.log.recover_app_events)
        await anyio.to_thread.run_sync(services.freezes.load)
        await anyio.to_thread.run_sync(services.restrictions.load)
        task = None
        if background_interval_seconds:
            task = asyncio.create_task(_background(services, decision_api,
                                                   background_interval_seconds, desk))
        try:
            yield
        finally:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    app = FastAPI(title="kabuguard", version=__version__, lifespan=lifespan,
                  docs_url=None, redoc_url=None, openapi_url="/api/openapi.json")
    app.state.services = services
    app.state.settings = settings
    app.state.decision_api = decision_api
    app.state.desk = desk
    app.add_middleware(SecurityHeaders)
    install_error_handlers(app)
    app.mount("/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static")

    app.include_router(api_router)
    app.include_router(api_account_security_router)
    app.include_router(customer_router)
    app.include_router(trade_router)
    app.include_router(orders_router)
    app.include_router(cash_router)
    app.include_router(bank_router)
    app.include_router(profile_router)
    app.include_router(security_router)
    app.include_router(api_recovery_router)
    app.include_router(recovery_router)
    app.include_router(mfa_removal_router)
    app.include_router(self_lock_router)
    app.include_router(notifications_router)
    app.include_router(report_router)
    app.include_router(api_notifications_router)
    app.include_router(decisions_router)
    for console_router in CONSOLE_ROUTERS:
        app.include_router(console_router)

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    return app


def app_from_environment() -> FastAPI:
    """The factory ``kabuguard serve --workers N`` hands to uvicorn: each worker process
    builds its app from the same KABUGUARD_* environment. Every worker runs the
    background loop; that is safe because a due order is executed under its account's
    row lock after re-reading its status, and the outbox relay delivers at least once."""
    configure_logging()
    return create_app(load_settings())
