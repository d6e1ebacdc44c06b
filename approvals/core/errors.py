"""What the service refuses, with a message meant for the person who asked."""

from __future__ import annotations


class ApprovalError(Exception):
    """A request the service refused; the message is meant for the person who made it."""


class InvalidThreadId(ApprovalError):
    pass


class UnknownThread(ApprovalError):
    pass


class NotPending(ApprovalError):
    pass


class NotAllowed(ApprovalError):
    pass


class ThreadBusy(ApprovalError):
    pass


class UnregisteredGraph(ApprovalError):
    """A thread whose graph the app cannot load: listed, never decided, nothing lost."""


class AlreadyDecided(ApprovalError):
    def __init__(self, decided_by: str, decided_at: str, decision: str):
        self.decided_by, self.decided_at, self.decision = decided_by, decided_at, decision
        super().__init__(f"Already decided by {decided_by} at {decided_at} ({decision}).")


class RequestChanged(ApprovalError):
    """The interrupt's request is not the one the decider was shown (its digest differs): nothing is saved."""
