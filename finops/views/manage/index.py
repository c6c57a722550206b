from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from finops.selectors.access import user_sees_all_teams


@login_required
def manage_index(request):
    return render(request, "manage/index.html", {"sees_all_teams": user_sees_all_teams(request.user)})
