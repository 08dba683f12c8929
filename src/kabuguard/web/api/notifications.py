"""``/api/v1/notification-settings``: the customer's notification settings (通知設定).

GET answers ``{"available": {"email", "sms", "push"}, "settings": [{"kind",
"mandatory", "email", "sms", "push"}, …]}``; PUT takes ``{"settings": [{"kind", "email"?,
"sms"?, "push"?}, …]}`` (media left out keep their value; a GET's answer may be sent
back as it is). E-mail for a mandatory kind cannot be switched off (422). Saving is
guarded as a contact change: see web/customer/notifications.py for why.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field, StrictBool

from kabuguard.domain.events import Channel
from kabuguard.guard.actions import Action
from kabuguard.web.deps import ApiSessionDep, ServicesDep
from kabuguard.web.guarding import guarded_api
from kabuguard.web.security import request_context

router = APIRouter(prefix="/api/v1", tags=["api"])


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class SettingItem(Strict):
    kind: str = Field(min_length=1, max_length=40)
    email: StrictBool | None = None
    sms: StrictBool | None = None
    push: StrictBool | None = None
    # Shown by GET; ignored here, so that a client can send back what it read.
    mandatory: StrictBool | None = None


class SettingsBody(Strict):
    settings: list[SettingItem] = Field(min_length=1, max_length=50)


@router.get("/notification-settings")
def notification_settings(session: ApiSessionDep, services: ServicesDep) -> dict[str, Any]:
    return services.notification_preferences.settings(session.customer_id)


@router.put("/notification-settings",
            dependencies=[Depends(guarded_api(Action.CONTACT_CHANGE))])
def change_notification_settings(body: SettingsBody, request: Request, session: ApiSessionDep,
                                 services: ServicesDep) -> dict[str, Any]:
    changes = {item.kind: {m: v for m in ("email", "sms", "push")
                           if (v := getattr(item, m)) is not None}
               for item in body.settings}
    channel = Channel.APP if session.channel == "app" else Channel.API
    return services.notification_preferences.update(
        session.customer_id, changes,
        context=request_context(request, channel=channel, session=session.public_id))
