import email
import email.policy
import socket

import pytest
from aiosmtpd.controller import Controller

from finops.models import TeamMembership
from tests.factories import MembershipFactory, TeamFactory, WorkloadFactory


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Inbox:
    """An aiosmtpd handler keeping every message it accepts. Addresses starting with
    `bounce@` are refused at RCPT, as a real server refuses an unknown mailbox."""

    def __init__(self):
        self.messages: list[email.message.EmailMessage] = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("bounce@"):
            return "550 5.1.1 No such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[email.message.EmailMessage]:
        return [message for message in self.messages if message["To"] == address]


def _smtp_settings(settings, port: int) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = port
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 5


@pytest.fixture
def smtp_server(settings):
    """A real SMTP server on a free loopback port; Django's SMTP backend pointed at it."""
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    _smtp_settings(settings, controller.port)
    try:
        yield inbox
    finally:
        controller.stop()


@pytest.fixture
def refusing_smtp(settings):
    """Django's SMTP backend pointed at a loopback port nobody listens on."""
    _smtp_settings(settings, free_port())


@pytest.fixture
def site_url(settings):
    settings.SITE_URL = "https://finops.example.com"
    return settings.SITE_URL


@pytest.fixture
def team_setup():
    """A team with a workload and a member (with e-mail), another team with its own member."""
    search = TeamFactory(name="Search")
    workload = WorkloadFactory(team=search, name="Reranker")
    member = MembershipFactory(team=search, user__email="ana@example.com").user
    vision = TeamFactory(name="Vision")
    outsider = MembershipFactory(team=vision, user__email="otto@example.com").user
    leader = MembershipFactory(team=vision, role=TeamMembership.Role.LEADER, user__email="lea@example.com").user
    return {"team": search, "workload": workload, "member": member, "other_team": vision, "outsider": outsider,
            "leader": leader}
