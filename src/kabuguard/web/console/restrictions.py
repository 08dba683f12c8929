"""Symbol restrictions: the list, one at a time, and the bulk import (preview first,
with the codes the symbol master does not know, then apply)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile
from starlette.responses import RedirectResponse, Response

from kabuguard.domain.errors import InvalidInput
from kabuguard.ops.restrictions import MAX_IMPORT_BYTES, parse_symbol_list
from kabuguard.ops.staff import Permission
from kabuguard.web.console.alerts import desk_of
from kabuguard.web.console.deps import CONSOLE_PREFIX, Viewer, Worker
from kabuguard.web.console.templating import render_console
from kabuguard.web.deps import LangDep

router = APIRouter(prefix=CONSOLE_PREFIX, include_in_schema=False)
NOTICES = ("restricted", "lifted", "imported")


@router.get("/restrictions")
def restrictions_page(request: Request, operator: Viewer, lang: LangDep, notice: str = "",
                      count: int = 0) -> Response:
    return render_console(request, "console/restrictions.html", lang=lang,
                          restrictions=desk_of(request).restrictions.active(),
                          notice=notice if notice in NOTICES else None, count=count,
                          can_work=operator.may(Permission.WORK))


@router.post("/restrictions")
def restrict_one(request: Request, operator: Worker,
                 symbol: Annotated[str, Form(max_length=20)],
                 side: Annotated[str, Form(max_length=4)] = "buy") -> Response:
    codes = parse_symbol_list(symbol)
    if len(codes) != 1:
        raise InvalidInput("Give one symbol code.", field="symbol")
    desk_of(request).restrictions.restrict(codes, side=side, operator=operator)
    return RedirectResponse(f"{CONSOLE_PREFIX}/restrictions?notice=restricted&count=1",
                            status_code=303)


@router.post("/restrictions/{restriction_id}/lift")
def lift(restriction_id: str, request: Request, operator: Worker) -> Response:
    desk_of(request).restrictions.lift(restriction_id, operator=operator)
    return RedirectResponse(f"{CONSOLE_PREFIX}/restrictions?notice=lifted", status_code=303)


@router.post("/restrictions/import")
async def import_preview(request: Request, operator: Worker, lang: LangDep,
                         symbols: Annotated[str, Form(max_length=MAX_IMPORT_BYTES)] = "",
                         file: Annotated[UploadFile | None, File()] = None) -> Response:
    """Read the list (pasted, or a CSV/text file) and show what applying it would do;
    nothing changes yet."""
    text = symbols
    if file is not None and file.filename:
        raw = await file.read(MAX_IMPORT_BYTES + 1)
        if len(raw) > MAX_IMPORT_BYTES:
            raise InvalidInput("The file is over 2 MB.", field="file")
        text = raw.decode("utf-8-sig", errors="replace")
    preview = desk_of(request).restrictions.preview(text)
    return render_console(request, "console/restrictions_preview.html", lang=lang,
                          preview=preview, reason=operator.reason)


@router.post("/restrictions/import/apply")
def import_apply(request: Request, operator: Worker,
                 symbols: Annotated[str, Form(max_length=MAX_IMPORT_BYTES)]) -> Response:
    count = desk_of(request).restrictions.restrict(parse_symbol_list(symbols), side="buy",
                                                   source="import", operator=operator)
    return RedirectResponse(f"{CONSOLE_PREFIX}/restrictions?notice=imported&count={count}",
                            status_code=303)
