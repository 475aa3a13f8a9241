"""Domain errors: raised by services, turned into 4xx answers by views, API and CLI (never a 500)."""

from __future__ import annotations

from typing import Any


class TandemError(Exception):
    """Base class for errors a user can act on."""

    status_code = 400

    def __init__(self, message: str, *, field: str | None = None, value: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.value = value

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"detail": self.message}
        if self.field is not None:
            out["field"] = self.field
        if self.value is not None:
            out["value"] = str(self.value)
        return out


class ValidationFailed(TandemError):
    status_code = 422


class NotAllowed(TandemError):
    status_code = 409


class NotFound(TandemError):
    status_code = 404
