from finops.selectors.access import user_sees_all_teams


def access(request):
    """What the navigation may offer: pages spanning every team are for leaders and staff."""
    user = getattr(request, "user", None)
    return {"sees_all_teams": bool(user and user_sees_all_teams(user))}
