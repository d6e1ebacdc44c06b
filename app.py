"""Entry point (`streamlit run app.py`): Streamlit serves `navigation.py`, plus the JSON API, behind our middleware.

The middleware gives every browser that loads a page a server-side session in an HttpOnly cookie, so who you are
survives reloads, new tabs and app restarts. The lifespan starts the webhook sender and the channels' senders
(email, Slack) with the server, not with the first visitor: events committed before a restart go out even if
nobody opens the app. It starts interrupt discovery the same way, so items that workers (other processes) write
reach the queue within about a second, the run runner, whose heartbeat loop takes over runs cut by a crash (this
replica's predecessor or another replica) as soon as their lease runs out, the delivery loop that retries decisions
whose resume did not take, the identity housekeeping (one replica purges ended sessions, dead tokens and old
sign-in failures), and the polling of Agent Server deployments (APPROVAL_DEPLOYMENTS).
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import streamlit as st
from starlette.middleware import Middleware

import resources
from approvals.http.api import api_routes
from approvals.http.email_links import email_routes
from approvals.http.oversight_api import oversight_routes
from approvals.http.slack_actions import slack_routes
from approvals.http.web import BrowserSessionMiddleware, FrameGuardMiddleware
from approvals.identity.housekeeping import HousekeepingLoop
from approvals.notify.webhooks import start_sender
from approvals.service import notifications
from approvals.service.delivery import DeliveryLoop
from approvals.sources.deployments import DeploymentLoop
from approvals.sources.discovery import DiscoveryLoop


@asynccontextmanager
async def lifespan(_app: st.App) -> AsyncIterator[None]:
    sender = start_sender(resources.approval_service().store)
    channel_senders = [s.start() for s in notifications.senders(resources.approval_service())]  # email, Slack
    discovery = DiscoveryLoop(resources.approval_service())
    resources.background_runner()  # its loop starts now: cut runs are finished before anyone reloads
    deliveries = DeliveryLoop(resources.approval_service())  # decisions whose resume did not take, with backoff
    housekeeping = HousekeepingLoop(resources.approval_service().db)
    polling = DeploymentLoop(resources.approval_service()) if resources.approval_service().remotes else None
    try:
        yield
    finally:
        if polling is not None:
            polling.stop()
        housekeeping.stop()
        deliveries.stop()
        discovery.stop()
        if sender is not None:
            sender.stop()
        for channel_sender in channel_senders:
            channel_sender.stop()


app = st.App(
    "navigation.py",
    lifespan=lifespan,
    routes=[*oversight_routes(resources.approval_service), *api_routes(resources.approval_service),
            *email_routes(resources.approval_service), *slack_routes(resources.approval_service)],
    middleware=[
        Middleware(FrameGuardMiddleware),
        Middleware(BrowserSessionMiddleware, database=lambda: resources.approval_service().db),
    ],
)
