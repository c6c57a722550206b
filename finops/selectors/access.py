"""Who may see which team's data. Every view, API endpoint, download and e-mail scopes
through these two functions, so the rule lives in one place."""

from django.db.models import QuerySet

from finops.models import Team, TeamMembership


def user_sees_all_teams(user) -> bool:
    if not user.is_authenticated:
        return False
    if user.is_staff or user.is_superuser:
        return True
    return TeamMembership.objects.filter(user=user, role=TeamMembership.Role.LEADER).exists()


def visible_teams(user) -> QuerySet[Team]:
    if user_sees_all_teams(user):
        return Team.objects.all()
    if not user.is_authenticated:
        return Team.objects.none()
    return Team.objects.filter(memberships__user=user).distinct()
