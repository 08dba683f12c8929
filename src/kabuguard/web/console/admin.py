"""Staff management (admins) and the audit log of console actions (every role reads it:
auditors most of all)."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from sqlalchemy import or_, select
from starlette.responses import Response

from kabuguard.audit.models import AuditRecord
from kabuguard.ops.staff import Permission, Role
from kabuguard.web.console.deps import CONSOLE_PREFIX, StaffAdmin, StaffServiceDep, Viewer
from kabuguard.web.console.templating import render_console
from kabuguard.web.deps import LangDep, ServicesDep

router = APIRouter(prefix=CONSOLE_PREFIX, include_in_schema=False)
AUDIT_PAGE = 200


def _staff_page(request: Request, staff: StaffServiceDep, lang: str, operator: Any, *,
                issued: dict[str, str] | None = None) -> Response:
    return render_console(request, "console/staff.html", lang=lang, staff=staff.list(),
                          roles=[r.value for r in Role], issued=issued,
                          can_manage=operator.may(Permission.MANAGE_STAFF))


@router.get("/staff")
def staff_page(request: Request, operator: Viewer, staff: StaffServiceDep,
               lang: LangDep) -> Response:
    return _staff_page(request, staff, lang, operator)


@router.post("/staff")
def staff_create(request: Request, operator: StaffAdmin, staff: StaffServiceDep, lang: LangDep,
                 name: Annotated[str, Form(max_length=80)],
                 role: Annotated[str, Form(max_length=12)]) -> Response:
    info, code = staff.create(name=name, role=role, created_by=operator.actor)
    return _staff_page(request, staff, lang, operator, issued={"name": info.name, "code": code})


@router.post("/staff/{staff_id}/enrolment")
def staff_enrolment(request: Request, staff_id: str, operator: StaffAdmin,
                    staff: StaffServiceDep, lang: LangDep) -> Response:
    code = staff.issue_enrolment(staff_id, by=operator.actor)
    info = staff.get(staff_id)
    return _staff_page(request, staff, lang, operator,
                       issued={"name": info.name if info else staff_id, "code": code})


@router.post("/staff/{staff_id}/disable")
def staff_disable(request: Request, staff_id: str, operator: StaffAdmin,
                  staff: StaffServiceDep, lang: LangDep) -> Response:
    staff.disable(staff_id, by=operator.actor, reason=operator.reason)
    return _staff_page(request, staff, lang, operator)


@router.get("/audit")
def audit_page(request: Request, _operator: Viewer, services: ServicesDep,
               lang: LangDep) -> Response:
    """The console's own records, newest first, and the whole chain verified."""
    with services.db.read() as session:
        rows = session.execute(
            select(AuditRecord).where(or_(AuditRecord.actor.like("staff:%"),
                                          AuditRecord.action.like("console:%")))
            .order_by(AuditRecord.seq.desc()).limit(AUDIT_PAGE)).scalars().all()
        chain = services.audit.verify(session)
    records = []
    for r in rows:
        payload = json.loads(r.payload)
        records.append({"seq": r.seq, "ts": r.ts, "actor": r.actor, "action": r.action,
                        "subject": r.subject, "name": payload.get("name"),
                        "reason": payload.get("reason")})
    return render_console(request, "console/audit.html", lang=lang, records=records,
                          chain=chain)
