"""The API's error hierarchy and its one mapping to RFC 9457 problem+json."""

from __future__ import annotations

import uuid
from http import HTTPStatus
from typing import Any

from flask import Flask, Response, g, json, request
from pydantic import ValidationError
from werkzeug.exceptions import HTTPException

from bridge.core.index import InvalidObject
from bridge.core.limits import LimitExceeded
from bridge.service import errors as service_errors
from bridge.store.store import (
    Conflict,
    NotFound,
    PreconditionFailed,
    PropertyRefused,
    StoreError,
)


class ApiError(Exception):
    status: int = 500
    code: str = "INTERNAL_ERROR"

    def __init__(self, detail: str, *, code: str | None = None, status: int | None = None,
                 errors: list[dict[str, Any]] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.code = code or self.code
        self.status = status or self.status
        self.errors = errors
        self.headers = headers or {}


class ValidationFailed(ApiError):
    status, code = 400, "VALIDATION_ERROR"


class AuthFailed(ApiError):
    status, code = 401, "AUTH_FAILED"

    def __init__(self, detail: str = "A valid Bearer token is required.") -> None:
        super().__init__(detail, headers={"WWW-Authenticate": 'Bearer realm="calbridge"'})


class AccessDenied(ApiError):
    status, code = 403, "ACCESS_DENIED"


class TokenDenied(ApiError):
    status, code = 403, "TOKEN_DENIED"


class TimeframeDenied(ApiError):
    status, code = 403, "TIMEFRAME_DENIED"


class ResourceNotFound(ApiError):
    status, code = 404, "NOT_FOUND"


class CalendarNotFound(ResourceNotFound):
    code = "CALENDAR_NOT_FOUND"

    def __init__(self, detail: str = "Calendar not found.") -> None:
        super().__init__(detail)


class ConflictError(ApiError):
    status, code = 409, "CONFLICT"


class PreconditionError(ApiError):
    status, code = 412, "PRECONDITION_FAILED"


class RateLimited(ApiError):
    status, code = 429, "RATE_LIMITED"

    def __init__(self, retry_after: int) -> None:
        super().__init__("Too many failed authentication attempts; retry later.",
                         headers={"Retry-After": str(retry_after)})


def request_id() -> str:
    if "request_id" not in g:
        g.request_id = request.headers.get("X-Request-Id") or uuid.uuid4().hex
    return str(g.request_id)


def problem_response(error: ApiError) -> Response:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": HTTPStatus(error.status).phrase,
        "status": error.status,
        "detail": error.detail,
        "code": error.code,
        "message": error.detail,
        "instance": request.path,
        "requestId": request_id(),
    }
    if error.errors:
        body["errors"] = error.errors
    response = Response(json.dumps(body), status=error.status,
                        content_type="application/problem+json")
    response.headers.update(error.headers)
    response.headers["X-Request-Id"] = body["requestId"]
    return response


def field_errors(exc: ValidationError, location: str = "") -> list[dict[str, Any]]:
    out = []
    for err in exc.errors():
        field = ".".join(str(p) for p in err["loc"] if p != "__root__")
        if location and not field:
            field = location
        out.append({"field": field, "code": err["type"], "message": err["msg"]})
    return out


def validation_failed(exc: ValidationError) -> Response:
    """flask-openapi3's validation callback: 400 problem+json naming each field."""
    errors = field_errors(exc)
    fields = ", ".join(e["field"] for e in errors if e["field"]) or "request"
    return problem_response(ValidationFailed(f"Invalid request: {fields}.", errors=errors))


def from_store_error(exc: StoreError | InvalidObject) -> ApiError:
    if isinstance(exc, InvalidObject):
        return ValidationFailed(str(exc))
    if isinstance(exc, PreconditionFailed):
        return PreconditionError("The resource changed since it was read (If-Match).")
    if isinstance(exc, Conflict):
        return ConflictError(str(exc))
    if isinstance(exc, NotFound):
        return ResourceNotFound(str(exc))
    if isinstance(exc, PropertyRefused):
        return ValidationFailed(str(exc), code="PROPERTY_TOO_LARGE" if exc.too_large
                                else "INVALID_PROPERTY")
    return ApiError(str(exc))


def from_limit(exc: LimitExceeded) -> ApiError:
    """A bound of ``[limits]`` reached: 400 with its own code (WINDOW_TOO_LARGE,
    TOO_MANY_INSTANCES, ...), raised from wherever the work is."""
    return ApiError(str(exc), code=exc.code, status=400)


# The status of each refusal of the services (bridge.service.errors); its code travels along.
_SERVICE_STATUS: dict[type[service_errors.ServiceError], int] = {
    service_errors.InvalidInput: 400, service_errors.OutsideTimeframe: 403,
    service_errors.Missing: 404, service_errors.Refused: 409, service_errors.Stale: 412,
    service_errors.KeyReused: 422}


def from_service_error(exc: service_errors.ServiceError) -> ApiError:
    status = next((s for kind, s in _SERVICE_STATUS.items() if isinstance(exc, kind)), 500)
    return ApiError(exc.detail, code=exc.code, status=status, errors=exc.errors)


def register_error_handlers(app: Flask) -> None:
    app.register_error_handler(ApiError, problem_response)
    app.register_error_handler(LimitExceeded, lambda e: problem_response(from_limit(e)))
    app.register_error_handler(service_errors.ServiceError,
                               lambda e: problem_response(from_service_error(e)))
    app.register_error_handler(StoreError, lambda e: problem_response(from_store_error(e)))
    app.register_error_handler(InvalidObject, lambda e: problem_response(from_store_error(e)))

    def http_error(exc: HTTPException) -> Response:
        status = exc.code or 500
        code = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED", 400: "VALIDATION_ERROR",
                413: "PAYLOAD_TOO_LARGE", 415: "UNSUPPORTED_MEDIA_TYPE"}.get(status, "HTTP_ERROR")
        return problem_response(ApiError(exc.description or exc.name, code=code, status=status))

    def unexpected(exc: Exception) -> Response:
        app.logger.exception("unhandled error")
        return problem_response(ApiError("Internal server error."))

    app.register_error_handler(HTTPException, http_error)
    app.register_error_handler(Exception, unexpected)
