from functools import wraps

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from dashboards.forms import PRESETS, DashboardFilterForm
from finops.selectors.spend import spend_dimensions


def filtered(template: str, form_class=DashboardFilterForm):
    """Sign-in required, the filter bar parsed from the query string, and a 400 page that
    says what is wrong when it does not parse; the view gets the valid form."""

    def decorate(view):
        @login_required
        @wraps(view)
        def wrapper(request):
            form = form_class(request.GET, user=request.user)
            if not form.is_valid():
                return invalid_page(request, form, template)
            return view(request, form)

        return wrapper

    return decorate


def page_context(request, form) -> dict:
    return {
        "form": form,
        "presets": PRESETS,
        "dimensions": spend_dimensions(user=request.user),
        "query": request.GET.urlencode(),
        "start": form.cleaned_data["start"],
        "end": form.cleaned_data["end"],
    }


def invalid_page(request, form, template: str):
    context = {"form": form, "presets": PRESETS, "dimensions": spend_dimensions(user=request.user), "charts": []}
    return render(request, template, context, status=400)
