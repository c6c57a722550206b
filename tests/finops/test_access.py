import pytest
from django.contrib.auth.models import AnonymousUser

from finops.models import TeamMembership
from finops.selectors.access import user_sees_all_teams, visible_teams
from tests.factories import MembershipFactory, TeamFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_a_member_sees_only_their_teams():
    mine, _other = TeamFactory(), TeamFactory()
    member = MembershipFactory(team=mine).user

    assert list(visible_teams(member)) == [mine]
    assert not user_sees_all_teams(member)


def test_a_leader_sees_every_team():
    mine, other = TeamFactory(), TeamFactory()
    leader = MembershipFactory(team=mine, role=TeamMembership.Role.LEADER).user

    assert set(visible_teams(leader)) == {mine, other}


def test_staff_see_every_team_without_membership():
    teams = {TeamFactory(), TeamFactory()}

    assert set(visible_teams(UserFactory(is_staff=True))) == teams


def test_a_user_without_team_sees_nothing():
    TeamFactory()

    assert not visible_teams(UserFactory()).exists()


def test_anonymous_sees_nothing():
    TeamFactory()
    assert not visible_teams(AnonymousUser()).exists()


def leadership_queries(captured) -> int:
    return sum(1 for query in captured if "finops_teammembership" in query["sql"] and "leader" in query["sql"])


def test_a_page_asks_once_whether_its_user_leads_and_the_next_request_asks_again(client):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    membership = MembershipFactory(team=TeamFactory())
    client.force_login(membership.user)
    with CaptureQueriesContext(connection) as captured:
        assert client.get(f"/teams/{membership.team.pk}/").status_code == 200
    assert leadership_queries(captured) == 1

    other = TeamFactory()
    assert client.get(f"/teams/{other.pk}/").status_code == 404
    membership.role = TeamMembership.Role.LEADER
    membership.save()
    assert client.get(f"/teams/{other.pk}/").status_code == 200


def test_outside_a_request_leadership_is_read_every_time():
    membership = MembershipFactory(team=TeamFactory())
    assert not user_sees_all_teams(membership.user)

    TeamMembership.objects.filter(pk=membership.pk).update(role=TeamMembership.Role.LEADER)

    assert user_sees_all_teams(membership.user)
