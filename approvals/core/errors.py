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


class NotInGroup(NotAllowed):
    """The policy names the groups that may decide, and the actor is in none of them."""

    def __init__(self, groups: tuple[str, ...], rule: str):
        self.groups = groups
        super().__init__(f"Only a reviewer in {' or '.join(groups)} can decide this request (rule {rule!r}).")


class AlreadyApproved(ApprovalError):
    """The same reviewer approving a multi-approver item twice: their approval counts once."""

    def __init__(self, approver: str, approved_at: str):
        self.approver, self.approved_at = approver, approved_at
        super().__init__(f"You approved this at {approved_at} already; another reviewer must approve it too.")


class AwaitingApprovals(ApprovalError):
    """Not a refusal: the approval was recorded, and the item waits for more approvers before it resumes."""

    def __init__(self, approved_by: tuple[str, ...], required: int):
        self.approved_by, self.required = approved_by, required
        super().__init__(f"Recorded: {approvals_progress(approved_by, required)}; waiting for "
                         f"{required - len(approved_by)} more.")


def approvals_progress(approved_by: tuple[str, ...], required: int) -> str:
    """What the queue, the review pane, the API and the webhook say: "1 of 2 approvals (alice)"."""
    return f"{len(approved_by)} of {required} approvals ({', '.join(approved_by) or 'none yet'})"


class TooSoon(ApprovalError):
    """A key or click came before the item had been on screen long enough to be read: nothing is saved."""
