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
