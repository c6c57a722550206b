"""The benchmarks page: runs of the workloads a user sees, their cost per unit, and a CSV import."""

from datetime import date
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from finops.models import Benchmark
from tests.factories import BenchmarkFactory
from tests.finops.views.pages import assert_has_csrf_token, assert_login_redirect, field_errors

pytestmark = pytest.mark.django_db

HEADER = (
    "workload,instance_type,gpu_model,throughput,throughput_unit,p95_latency_ms,hourly_price,measured_on\n"
)


@pytest.fixture
def runs(org):
    return {
        # 1.006 USD/h at 50 requests/s: 1.006 × 1000 / (50 × 3600) = 0.0055888… USD per 1k requests
        "search": BenchmarkFactory(
            workload=org.reranker,
            instance_type="g5.xlarge",
            throughput=Decimal("50"),
            hourly_price=Decimal("1.006"),
        ),
        "vision": BenchmarkFactory(workload=org.detector, instance_type="p4d.24xlarge"),
    }


def _valid(org, **change) -> dict:
    return {
        "workload": org.reranker.pk,
        "provider_name": "AWS",
        "instance_type": "g6.xlarge",
        "gpu_model": "NVIDIA L4",
        "gpu_count": "1",
        "model_name": "bge-reranker-v2",
        "throughput": "1250.5",
        "throughput_unit": Benchmark.ThroughputUnit.TOKENS_PER_SECOND,
        "p95_latency_ms": "180.5",
        "hourly_price": "0.8048",
        "currency": "USD",
        "measured_on": "2026-10-02",
        "notes": "",
        **change,
    }


def _csv(text: str, name: str = "runs.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, text.encode(), content_type="text/csv")


def test_anonymous_visitors_are_sent_to_log_in(client, runs):
    pk = runs["search"].pk
    for url in (
        reverse("manage:benchmarks"),
        reverse("manage:benchmark-create"),
        reverse("manage:benchmark-edit", args=[pk]),
        reverse("manage:benchmark-delete", args=[pk]),
    ):
        assert_login_redirect(client.get(url))
    assert_login_redirect(client.post(reverse("manage:benchmarks-import"), {"file": _csv(HEADER)}))


def test_a_member_sees_their_runs_with_the_cost_per_unit(client, org, runs):
    client.force_login(org.member)

    response = client.get(reverse("manage:benchmarks"))

    page = response.content.decode()
    assert "g5.xlarge" in page and "p4d.24xlarge" not in page
    assert "0.005589 USD" in page and "per 1k requests" in page
    assert_has_csrf_token(response)  # the import form


def test_a_leader_sees_every_teams_runs(client, org, runs):
    client.force_login(org.leader)

    page = client.get(reverse("manage:benchmarks")).content.decode()

    assert "g5.xlarge" in page and "p4d.24xlarge" in page


def test_a_member_records_a_run_of_their_workload(client, org):
    client.force_login(org.member)
    form = client.get(reverse("manage:benchmark-create"))
    assert_has_csrf_token(form)
    assert list(form.context["form"].fields["workload"].queryset) == [org.reranker]

    response = client.post(reverse("manage:benchmark-create"), _valid(org))

    assert response.status_code == 302 and response["Location"] == reverse("manage:benchmarks")
    run = Benchmark.objects.get(instance_type="g6.xlarge")
    assert (run.workload, run.throughput, run.p95_latency_ms, run.hourly_price, run.measured_on) == (
        org.reranker,
        Decimal("1250.5"),
        Decimal("180.5"),
        Decimal("0.8048"),
        date(2026, 10, 2),
    )


def test_a_member_cannot_record_a_run_of_another_teams_workload(client, org):
    client.force_login(org.member)

    response = client.post(reverse("manage:benchmark-create"), _valid(org, workload=org.detector.pk))

    assert any("Select a valid choice" in error for error in field_errors(response, "workload"))
    assert not Benchmark.objects.exists()


def test_a_member_edits_their_run(client, org, runs):
    run = runs["search"]
    client.force_login(org.member)
    assert_has_csrf_token(client.get(reverse("manage:benchmark-edit", args=[run.pk])))

    response = client.post(
        reverse("manage:benchmark-edit", args=[run.pk]),
        _valid(org, instance_type="g5.xlarge", measured_on="2026-10-01", hourly_price="1.10"),
    )

    assert response.status_code == 302
    run.refresh_from_db()
    assert (run.hourly_price, run.gpu_model) == (Decimal("1.10"), "NVIDIA L4")


def test_another_teams_run_is_a_404(client, org, runs):
    other = runs["vision"]
    client.force_login(org.member)

    assert client.get(reverse("manage:benchmark-edit", args=[other.pk])).status_code == 404
    assert client.post(reverse("manage:benchmark-edit", args=[other.pk]), _valid(org)).status_code == 404
    assert client.post(reverse("manage:benchmark-delete", args=[other.pk])).status_code == 404
    other.refresh_from_db()
    assert other.workload == org.detector


def test_the_same_run_twice_is_a_field_error(client, org, runs):
    client.force_login(org.member)
    twin = {"instance_type": "g5.xlarge", "gpu_count": "1", "measured_on": "2026-10-01"}

    response = client.post(reverse("manage:benchmark-create"), _valid(org, **twin))

    assert any("already has a run" in error for error in field_errors(response, "measured_on"))
    assert Benchmark.objects.filter(workload=org.reranker).count() == 1


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"throughput": "0"}, "throughput", "Throughput must be more than zero."),
        ({"throughput": "-3"}, "throughput", "Throughput must be more than zero."),
        ({"hourly_price": "-0.01"}, "hourly_price", "Ensure this value is greater than or equal to 0."),
        ({"p95_latency_ms": "-1"}, "p95_latency_ms", "Ensure this value is greater than or equal to 0."),
        ({"gpu_count": "40000"}, "gpu_count", "Ensure this value is less than or equal to 32767."),
        ({"throughput_unit": "images_per_second"}, "throughput_unit", "Select a valid choice."),
        ({"measured_on": "yesterday"}, "measured_on", "Enter a valid date."),
    ],
)
def test_an_invalid_run_is_shown_again_with_the_error_on_its_field(client, org, runs, change, field, message):
    client.force_login(org.member)

    response = client.post(reverse("manage:benchmark-create"), _valid(org, **change))

    assert any(message in error for error in field_errors(response, field))
    assert Benchmark.objects.count() == 2


def test_a_member_deletes_their_run(client, org, runs):
    client.force_login(org.member)

    response = client.post(reverse("manage:benchmark-delete", args=[runs["search"].pk]))

    assert response.status_code == 302
    assert list(Benchmark.objects.all()) == [runs["vision"]]


def test_importing_a_csv_file_adds_and_updates_runs(client, org, runs):
    client.force_login(org.member)
    text = HEADER + (
        f"{org.reranker.slug},g5.xlarge,NVIDIA A10G,60,requests_per_second,110,1.006,2026-10-01\n"
        f"{org.reranker.slug},g6.xlarge,NVIDIA L4,45,requests_per_second,150,0.8048,2026-10-01\n"
    )

    response = client.post(reverse("manage:benchmarks-import"), {"file": _csv(text)}, follow=True)

    assert "Imported runs.csv: 1 created, 1 updated." in response.content.decode()
    runs["search"].refresh_from_db()
    assert runs["search"].throughput == Decimal("60")
    assert Benchmark.objects.filter(workload=org.reranker).count() == 2


def test_a_bad_csv_file_imports_nothing_and_says_where(client, org, runs):
    client.force_login(org.member)
    text = HEADER + (
        f"{org.reranker.slug},g6.xlarge,NVIDIA L4,45,requests_per_second,150,0.8048,2026-10-01\n"
        f"{org.reranker.slug},g6.2xlarge,NVIDIA L4,0,requests_per_second,150,0.9,2026-10-01\n"
    )

    response = client.post(reverse("manage:benchmarks-import"), {"file": _csv(text)})

    assert response.status_code == 200
    errors = response.context["import_form"].errors["file"]
    assert len(errors) == 1 and "runs.csv, line 3, column 'throughput'" in errors[0]
    assert "Nothing was imported." in response.content.decode()
    assert_has_csrf_token(response)
    assert Benchmark.objects.count() == 2


def test_a_member_cannot_import_runs_of_another_teams_workload(client, org, runs):
    client.force_login(org.member)
    text = HEADER + f"{org.detector.slug},g6.xlarge,NVIDIA L4,45,requests_per_second,150,0.8048,2026-10-01\n"

    response = client.post(reverse("manage:benchmarks-import"), {"file": _csv(text)})

    assert (
        "is not the slug of a workload you may import benchmarks for"
        in response.context["import_form"].errors["file"][0]
    )
    assert Benchmark.objects.filter(workload=org.detector).count() == 1


def test_importing_without_a_file_is_a_field_error(client, org):
    client.force_login(org.member)

    response = client.post(reverse("manage:benchmarks-import"), {})

    assert response.status_code == 200
    assert response.context["import_form"].errors["file"] == ["This field is required."]
