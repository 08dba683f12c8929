"""Every router of the operations console, for ``create_app`` to include."""

from __future__ import annotations

from fastapi import APIRouter

from kabuguard.web.console.actions import router as actions_router
from kabuguard.web.console.admin import router as admin_router
from kabuguard.web.console.alerts import router as alerts_router
from kabuguard.web.console.auth import router as auth_router
from kabuguard.web.console.cases import router as cases_router
from kabuguard.web.console.compensation import router as compensation_router
from kabuguard.web.console.home import router as home_router
from kabuguard.web.console.reports import router as reports_router
from kabuguard.web.console.restrictions import router as restrictions_router

ROUTERS: tuple[APIRouter, ...] = (auth_router, home_router, alerts_router, cases_router,
                                  actions_router, restrictions_router, compensation_router,
                                  reports_router, admin_router)
