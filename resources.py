"""Process-wide objects shared by every session, created once with st.cache_resource."""

from __future__ import annotations

import streamlit as st

from approvals.auth import seed_demo_accounts
from approvals.runner import BackgroundRunner
from approvals.service import ApprovalService
from approvals.storage import open_store


@st.cache_resource(on_release=lambda service: service.store.close())
def approval_service() -> ApprovalService:
    """The store, graph and service; decisions left unapplied by a crash are applied on start."""
    service = ApprovalService(open_store())
    seed_demo_accounts(service.db)
    service.recover()
    return service


@st.cache_resource(on_release=BackgroundRunner.shutdown)
def background_runner() -> BackgroundRunner:
    return BackgroundRunner()
