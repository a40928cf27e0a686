"""The services' refusals, in domain words: each door maps them to its own answer
(bridge.errors to problem+json with the same statuses and codes the views gave before).

Decisions:
- No web framework here: a refusal names what went wrong (``code``) and, for bad input, which
  field; the HTTP status is the door's business (``bridge.errors.from_service_error``).
- The store's own errors (PreconditionFailed, Conflict, ...) pass through unchanged.
"""

from __future__ import annotations

from typing import Any


class ServiceError(Exception):
    code: str = "INTERNAL_ERROR"

    def __init__(self, detail: str, *, code: str | None = None,
                 errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.code = code or self.code
        self.errors = errors


class InvalidInput(ServiceError):
    """The request cannot become a valid event (a field names what is wrong)."""

    code = "VALIDATION_ERROR"

    @classmethod
    def of_field(cls, field: str, message: str) -> InvalidInput:
        return cls(message, errors=[{"field": field, "code": "invalid", "message": message}])


class OutsideTimeframe(ServiceError):
    """The event lies outside the time a token may touch."""

    code = "TIMEFRAME_DENIED"


class Missing(ServiceError):
    code = "NOT_FOUND"


class Refused(ServiceError):
    """The calendar's state does not allow the write (a conflict, not bad input)."""

    code = "CONFLICT"


class Stale(ServiceError):
    """An If-Match named another version than the one stored."""

    code = "PRECONDITION_FAILED"

    def __init__(self) -> None:
        super().__init__("The resource changed since it was read (If-Match).")


class KeyReused(ServiceError):
    """An idempotency key sent again with another request."""

    code = "IDEMPOTENCY_KEY_REUSED"

    def __init__(self) -> None:
        super().__init__("This Idempotency-Key was used with another request.")
