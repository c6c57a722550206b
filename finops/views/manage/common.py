from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render

from finops.selectors.access import user_sees_all_teams


def leader_required(view):
    """Signed in, and a leader or staff: the object spans every team. Anyone else gets a 403."""

    @login_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not user_sees_all_teams(request.user):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    return wrapper


def edit_page(request, form, *, title: str, back: str, delete_url: str = "", intro: str = ""):
    """The page of one create or edit form; a form that did not validate is shown again with
    its errors beside the fields."""
    context = {"form": form, "title": title, "back": back, "delete_url": delete_url, "intro": intro}
    return render(request, "manage/form.html", context)


def confirm_delete(request, obj, *, what: str, back: str, on_delete=None):
    """GET asks, POST deletes; `on_delete` runs after the row is gone."""
    if request.method == "POST":
        label = str(obj)
        obj.delete()
        if on_delete is not None:
            on_delete()
        messages.success(request, f"Deleted the {what} “{label}”.")
        return redirect(back)
    return render(request, "manage/confirm_delete.html", {"object": obj, "what": what, "back": back})
