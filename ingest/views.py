from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.shortcuts import redirect, render

from finops.models import DataSource, IngestRun
from finops.selectors.access import user_sees_all_teams
from ingest.forms import BillingUploadForm
from ingest.services.uploads import billing_upload_store
from ingest.tasks import ingest_billing_uri

RECENT_RUNS = 50


@login_required
def runs(request):
    """Recent ingestion runs and the upload form. Runs span every team, so only leaders and
    staff see this page."""
    if not user_sees_all_teams(request.user):
        raise PermissionDenied
    form = BillingUploadForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        folder = billing_upload_store(files=form.cleaned_data["files"])
        format = form.cleaned_data["format"]
        transaction.on_commit(lambda: ingest_billing_uri.delay(str(folder), format))
        messages.success(request, f"Received {len(form.cleaned_data['files'])} file(s); ingestion has started.")
        return redirect("ingest:runs")
    context = {
        "form": form,
        "runs": IngestRun.objects.select_related("data_source")[:RECENT_RUNS],
        "data_sources": DataSource.objects.all(),
    }
    return render(request, "ingest/runs.html", context, status=400 if form.is_bound else 200)
