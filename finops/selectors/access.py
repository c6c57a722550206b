"""Who may see which team's data. Every view, API endpoint, download and e-mail scopes
through these two functions, so the rule lives in one place."""

from django.db.models import QuerySet

from finops.models import CostRecord, Team, TeamMembership, Workload


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


def workloads_for_user(user) -> QuerySet[Workload]:
    return Workload.objects.filter(team__in=visible_teams(user)).select_related("team")


def cost_records_for_user(user) -> QuerySet[CostRecord]:
    """Unallocated records belong to no team: only those who see every team see them."""
    if user_sees_all_teams(user):
        return CostRecord.objects.all()
    return CostRecord.objects.filter(workload__team__in=visible_teams(user))
