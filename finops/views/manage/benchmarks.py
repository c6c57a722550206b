"""Benchmark runs: a team's measurements, kept by anyone who sees the workload (another
team's run is a 404). Runs can also be loaded from a CSV file."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from finops.forms.benchmarks import BenchmarkForm, BenchmarkImportForm
from finops.models import Benchmark
from finops.selectors.access import workloads_for_user
from finops.selectors.benchmarks import benchmark_cost_per_unit, benchmark_price_unit, benchmarks_for_user
from finops.services.benchmarks import benchmarks_import_csv
from finops.views.manage.common import confirm_delete, edit_page
from ingest.errors import IngestError


def _get_benchmark_for_user(request, pk: int) -> Benchmark:
    return get_object_or_404(benchmarks_for_user(request.user), pk=pk)


def _list_page(request, import_form: BenchmarkImportForm):
    runs = benchmarks_for_user(request.user).order_by(
        "workload__team__name", "workload__name", "instance_type", "-measured_on", "id"
    )
    rows = [(run, benchmark_cost_per_unit(run), benchmark_price_unit(run)) for run in runs]
    return render(request, "manage/benchmarks.html", {"rows": rows, "import_form": import_form})


@login_required
def benchmark_list(request):
    return _list_page(request, BenchmarkImportForm())


@login_required
@require_POST
def benchmarks_import(request):
    form = BenchmarkImportForm(request.POST, request.FILES)
    if form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            result = benchmarks_import_csv(
                stream=upload, source_name=upload.name, team_workloads=workloads_for_user(request.user)
            )
        except IngestError as exc:
            form.add_error("file", f"Nothing was imported. {exc}")
        else:
            messages.success(request, f"Imported {upload.name}: {result}.")
            return redirect("manage:benchmarks")
    return _list_page(request, form)


@login_required
def benchmark_create(request):
    form = BenchmarkForm(request.POST if request.method == "POST" else None, user=request.user)
    if form.is_bound and form.is_valid():
        run = form.save()
        messages.success(request, f"Added the run of {run.workload} on {run.instance_type}.")
        return redirect("manage:benchmarks")
    return edit_page(
        request,
        form,
        title="New benchmark run",
        back=reverse("manage:benchmarks"),
        intro="One measured price-performance run of a workload on an instance type.",
    )


@login_required
def benchmark_edit(request, pk: int):
    run = _get_benchmark_for_user(request, pk)
    title = f"Benchmark of {run.workload} on {run.instance_type}"
    form = BenchmarkForm(request.POST if request.method == "POST" else None, instance=run, user=request.user)
    if form.is_bound and form.is_valid():
        form.save()
        messages.success(request, f"Saved the run of {run.workload} on {run.instance_type}.")
        return redirect("manage:benchmarks")
    return edit_page(
        request,
        form,
        title=title,
        back=reverse("manage:benchmarks"),
        delete_url=reverse("manage:benchmark-delete", args=[run.pk]),
    )


@login_required
@require_http_methods(["GET", "POST"])
def benchmark_delete(request, pk: int):
    run = _get_benchmark_for_user(request, pk)
    return confirm_delete(request, run, what="benchmark run", back=reverse("manage:benchmarks"))
