from types import SimpleNamespace

import pytest

from finops.models import TeamMembership
from finops.tasks import reclassify_cost_records
from tests.factories import MembershipFactory, TeamFactory, UserFactory, WorkloadFactory


@pytest.fixture
def org():
    """Two teams with a workload each: `member` is in Search only, `outsider` in Vision only;
    `leader` leads Vision (so sees every team) and `staff` is in no team."""
    search, vision = TeamFactory(name="Search"), TeamFactory(name="Vision")
    return SimpleNamespace(
        search=search,
        vision=vision,
        reranker=WorkloadFactory(team=search, name="Reranker"),
        detector=WorkloadFactory(team=vision, name="Detector"),
        member=MembershipFactory(team=search, user__username="ana").user,
        outsider=MembershipFactory(team=vision, user__username="otto").user,
        leader=MembershipFactory(team=vision, role=TeamMembership.Role.LEADER, user__username="lea").user,
        staff=UserFactory(username="sam", is_staff=True),
    )


@pytest.fixture
def reclassifications(monkeypatch):
    """The reclassification task's enqueued calls, recorded instead of run."""
    calls = []
    monkeypatch.setattr(
        reclassify_cost_records, "delay", lambda *args, **kwargs: calls.append((args, kwargs))
    )
    return calls
