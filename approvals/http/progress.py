"""The 202 body: an approval of a multi-approver item was recorded, and the item waits for more approvers."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from approvals.core.errors import AwaitingApprovals, approvals_progress


class ProgressOut(BaseModel):
    """202: the approval is recorded, and the item waits for more approvers before the agent resumes."""

    thread_id: str
    interrupt_id: str
    status: Literal["waiting"]
    approved_by: list[str] = Field(description="Who approved so far, in order.")
    required: int = Field(description="How many distinct approvers the policy rule requires.")
    progress: str = Field(description='E.g. "1 of 2 approvals (alice)".')

    @classmethod
    def of(cls, thread_id: str, interrupt_id: str, waiting: AwaitingApprovals) -> ProgressOut:
        return cls(thread_id=thread_id, interrupt_id=interrupt_id, status="waiting",
                   approved_by=list(waiting.approved_by), required=waiting.required,
                   progress=approvals_progress(waiting.approved_by, waiting.required))
