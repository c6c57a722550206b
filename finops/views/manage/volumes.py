"""Inference volumes: the latest days of the workloads the user sees, and a CSV upload that
sets (workload, day) volumes for the serving stacks that export a report instead of pushing."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render

from finops.forms.volumes import VolumeImportForm
from finops.models import InferenceVolume
from finops.selectors.access import workloads_for_user
from finops.services.volume_import import inference_volumes_import_csv
from ingest.errors import IngestError

RECENT_VOLUMES = 100


@login_required
def volumes(request):
    form = VolumeImportForm(request.POST or None, request.FILES or None)
    if form.is_bound and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            count = inference_volumes_import_csv(
                stream=upload, source_name=upload.name, team_workloads=workloads_for_user(request.user)
            )
        except IngestError as exc:
            form.add_error("file", f"Nothing was imported. {exc}")
        else:
            messages.success(request, f"Imported {upload.name}: {count} workload-days set.")
            return redirect("manage:volumes")
    recent = (
        InferenceVolume.objects.filter(workload__in=workloads_for_user(request.user))
        .select_related("workload__team")
        .order_by("-day", "workload__name")[:RECENT_VOLUMES]
    )
    return render(request, "manage/volumes.html", {"form": form, "volumes": recent},
                  status=400 if form.is_bound else 200)
