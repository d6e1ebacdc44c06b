"""The approvals service: the one way pages, the API, the CLI and benchmarks start threads, list and decide approvals.

Threads may belong to any registered graph (approvals/sources/registry.py); what a thread waits for is read from
its latest checkpoint (approvals/core/interrupts.py), so a thread of a graph the app cannot load is still listed.
Each open interrupt is its own item and is resumed by its own id. The work is split by concern (conversations,
the queue, decisions); this class is only their sum, so callers keep one object.
"""

from __future__ import annotations

from approvals.service.conversations import ConversationService
from approvals.service.deployments import DeploymentService
from approvals.service.drafts import DraftService
from approvals.service.notifications import NotificationService


class ApprovalService(ConversationService, DeploymentService, NotificationService, DraftService):
    """Conversations, the queue and decisions behind one object (st.cache_resource hands it to every page)."""
