"""Who may see which team's data. Every view, API endpoint, download and e-mail scopes
through these two functions, so the rule lives in one place."""

from contextvars import ContextVar

from django.db.models import QuerySet

from finops.models import CostRecord, Team, TeamMembership, Workload

# Whether each user leads a team, remembered for one request (finops.middleware): a page asks a
# dozen times. Outside a request (tasks, e-mails, the shell) it is asked every time.
_leaders_this_request: ContextVar[dict[int, bool] | None] = ContextVar("leaders_this_request", default=None)


def access_memo_start():
    """Remember leadership until `access_memo_end(token)`; returns the token."""
    return _leaders_this_request.set({})


def access_memo_end(token) -> None:
    _leaders_this_request.reset(token)


def user_sees_all_teams(user) -> bool:
    if not user.is_authenticated:
        return False
    if user.is_staff or user.is_superuser:
        return True
    memo = _leaders_this_request.get()
    if memo is not None and user.pk in memo:
        return memo[user.pk]
    leads = TeamMembership.objects.filter(user=user, role=TeamMembership.Role.LEADER).exists()
    if memo is not None:
        memo[user.pk] = leads
    return leads


def visible_teams(user) -> QuerySet[Team]:
    if user_sees_all_teams(user):
        return Team.objects.all()
    if not user.is_authenticated:
        return Team.objects.none()
    return Team.objects.filter(memberships__user=user).distinct()


def team_scoped(rows: QuerySet, user) -> QuerySet:
    """Rows with a `team` (rollups, initiatives) that `user` may see. Rows of no team
    (unallocated spend) belong to no one's team, so only those who see every team see them."""
    if user_sees_all_teams(user):
        return rows
    return rows.filter(team__in=visible_teams(user))


def workloads_for_user(user) -> QuerySet[Workload]:
    return Workload.objects.filter(team__in=visible_teams(user)).select_related("team")


def cost_records_for_user(user) -> QuerySet[CostRecord]:
    """Unallocated records belong to no team: only those who see every team see them."""
    if user_sees_all_teams(user):
        return CostRecord.objects.all()
    return CostRecord.objects.filter(workload__team__in=visible_teams(user))
