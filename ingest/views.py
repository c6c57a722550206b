from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render

from finops.models import DataSource, IngestRun
from finops.selectors.access import user_sees_all_teams
from ingest.forms import BillingUploadForm
from ingest.services.uploads import billing_upload_start
from ingest.upload_handlers import upload_refusal

RECENT_RUNS = 50


@login_required
def runs(request):
    """Recent ingestion runs and the upload form. Runs span every team, so only leaders and
    staff see this page."""
    if not user_sees_all_teams(request.user):
        raise PermissionDenied
    if request.method == "POST":
        data, files = request.POST, request.FILES  # parsed: a refused body is known from here on
        refusal = upload_refusal(request)
        form = BillingUploadForm(data, files, refusal=refusal.message if refusal else "")
    else:
        form, refusal = BillingUploadForm(), None
    if form.is_bound and form.is_valid():
        run = billing_upload_start(
            files=form.cleaned_data["files"], format=form.cleaned_data["format"], uploaded_by=request.user
        )
        messages.success(request, f"Received {len(form.cleaned_data['files'])} file(s) as run #{run.pk}; ingestion has started.")
        return redirect("ingest:runs")
    context = {
        "form": form,
        "runs": IngestRun.objects.select_related("data_source")[:RECENT_RUNS],
        "data_sources": DataSource.objects.all(),
    }
    status = refusal.status if refusal else 400 if form.is_bound else 200
    return render(request, "ingest/runs.html", context, status=status)
