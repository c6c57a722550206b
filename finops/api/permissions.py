from rest_framework.permissions import SAFE_METHODS, BasePermission

from finops.selectors.access import user_sees_all_teams


class LeaderWritesOthersRead(BasePermission):
    """Anyone signed in reads what their scope allows; only leaders and staff change things."""

    message = "Only leaders and staff can change this."

    def has_permission(self, request, view):
        if not (request.user and request.user.is_authenticated):
            return False
        return request.method in SAFE_METHODS or user_sees_all_teams(request.user)


class SeesAllTeams(BasePermission):
    """For resources that span every team (ingestion runs)."""

    message = "Only leaders and staff can see this."

    def has_permission(self, request, view):
        return bool(request.user and request.user.is_authenticated and user_sees_all_teams(request.user))
