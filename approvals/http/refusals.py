"""The status code and body for each way the service (or a route) refuses a request: one place, so the API's
promises (401/403/404/409/422, nothing saved) read as a table."""

from __future__ import annotations

from approvals.core.errors import (
    AlreadyApproved,
    AlreadyDecided,
    InvalidThreadId,
    NotAllowed,
    NotInGroup,
    NotPending,
    RequestChanged,
    UnknownThread,
)
from approvals.core.hitl import InvalidDecision
from approvals.http.limits import ApiError
from approvals.service import claims, oversight


def refusal(error: Exception) -> ApiError:
    """The status code and body for each way the service (or the route) refuses a request."""
    match error:
        case ApiError():
            return error
        case AlreadyDecided():
            return ApiError(409, "already_decided", str(error), decided_by=error.decided_by,
                            decided_at=error.decided_at)
        case RequestChanged():
            return ApiError(409, "request_changed", "The request changed since you opened it; read it again "
                            "(GET the item) before deciding. Nothing was saved.")
        case oversight.Paused():
            return ApiError(409, "paused", str(error))
        case oversight.TooManyPauses():
            return ApiError(409, "too_many_pauses", str(error))
        case claims.Claimed():
            return ApiError(409, "claimed", str(error), claimed_by=error.claim.claimed_by,
                            claimed_until=error.claim.expires_at)
        case AlreadyApproved():
            return ApiError(409, "already_approved", str(error), approved_at=error.approved_at)
        case NotInGroup():
            return ApiError(403, "not_in_group", str(error), groups=list(error.groups))
        case NotAllowed():
            return ApiError(403, "not_allowed", str(error))
        case UnknownThread() | InvalidThreadId() | NotPending():
            return ApiError(404, "not_found", str(error))
        case InvalidDecision():
            return ApiError(422, "invalid_decision", str(error))
    return ApiError(400, "refused", str(error))
