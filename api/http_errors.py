"""Errors as HTTP answers: every known error is a 4xx JSON body naming the parameter, what was received and
what is accepted; anything else is a generic 500 with no internals, and one log line."""

from __future__ import annotations

import logging
import uuid

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from geo.errors import InputError

log = logging.getLogger("crimemap.api")


class BadParameter(InputError):
    """A request parameter that cannot be used: carries what was received and what is accepted."""

    def __init__(self, param: str, received, expected: str, *, status_code: int = 400, message: str | None = None):
        shown = str(received)
        shown = shown if len(shown) <= 80 else shown[:77] + "..."
        super().__init__(message or f"{param} {shown!r} is not accepted; expected {expected}", param=param,
                         status_code=status_code)
        self.received = shown
        self.expected = expected


def error_body(status: int, message: str, param: str | None, received=None, expected: str | None = None) -> dict:
    body = {"error": message, "status": status, "param": param}
    if received is not None:
        body["received"] = received
    if expected is not None:
        body["expected"] = expected
    return body


async def _input_error(request: Request, exc: InputError) -> JSONResponse:
    status = int(getattr(exc, "status_code", 400))
    body = error_body(status, str(exc), exc.param, getattr(exc, "received", None), getattr(exc, "expected", None))
    headers = {"Vary": "Authorization"}
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer realm="crimemap"'
    return JSONResponse(body, status_code=status, headers=headers)


async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    errs = exc.errors()
    first = errs[0] if errs else {}
    loc = [str(p) for p in first.get("loc", ()) if p not in ("query", "path", "header", "body")]
    param = loc[0] if loc else None
    received = first.get("input")
    received = None if received is None else str(received)[:80]
    msg = f"{param or 'request'}: {first.get('msg', 'invalid value')}"
    return JSONResponse(error_body(400, msg, param, received, first.get("msg")), status_code=400,
                        headers={"Vary": "Authorization"})


async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    param = "path" if exc.status_code == 404 else None
    msg = "no such route; see /docs for the routes" if exc.status_code == 404 else str(exc.detail)
    return JSONResponse(error_body(exc.status_code, msg, param), status_code=exc.status_code,
                        headers=getattr(exc, "headers", None))


async def _internal_error(request: Request, exc: Exception) -> JSONResponse:
    ref = uuid.uuid4().hex[:12]
    log.error("internal error %s on %s %s: %s: %s", ref, request.method, request.url.path, type(exc).__name__,
              str(exc)[:300], exc_info=exc)
    return JSONResponse({"error": "internal error; it has been logged", "status": 500, "reference": ref},
                        status_code=500)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(InputError, _input_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _internal_error)
