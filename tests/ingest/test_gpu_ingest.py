import shutil
from fractions import Fraction
from pathlib import Path

import pytest
from django.core.management import call_command

from finops.models import GpuAssignmentRule, GpuHourly, GpuSample, IngestRun
from ingest.services.gpu import gpu_uri_ingest
from tests.factories import WorkloadFactory

FIXTURES = Path(__file__).parents[1] / "fixtures"
NVIDIA_SMI = FIXTURES / "nvidia-smi" / "gpu-node-07_2026-11-01.csv"
DCGM = FIXTURES / "dcgm" / "gpu-node-01.prom"

pytestmark = pytest.mark.django_db


def copy_to(tmp_path, source: Path, name: str | None = None) -> Path:
    folder = tmp_path / str(len(list(tmp_path.iterdir())))
    folder.mkdir()
    return Path(shutil.copy(source, folder / (name or source.name)))


def test_it_loads_nvidia_smi_samples_and_reports_what_it_skipped(tmp_path):
    [run] = gpu_uri_ingest(uri=str(copy_to(tmp_path, NVIDIA_SMI)))

    assert run.status == IngestRun.Status.SUCCEEDED, run.error
    assert run.kind == IngestRun.Kind.GPU
    assert run.format == "nvidia-smi"
    samples = GpuSample.objects.all()
    assert run.rows_loaded == samples.count() > 0
    assert set(samples.values_list("host", flat=True)) == {"gpu-node-07"}
    assert "skipped 3 rows without GPU utilization" in run.message  # the MIG-mode GPU prints [N/A]
    assert GpuHourly.objects.exists()


def test_dcgm_samples_map_to_workloads_by_namespace_and_mig_slices_share_the_gpu(tmp_path):
    gateway, embedder, reranker = WorkloadFactory(), WorkloadFactory(), WorkloadFactory()
    GpuAssignmentRule.objects.create(workload=gateway, namespace="llm")
    GpuAssignmentRule.objects.create(workload=embedder, namespace="embeddings")
    GpuAssignmentRule.objects.create(workload=reranker, pod_pattern="reranker-*")

    [run] = gpu_uri_ingest(uri=str(copy_to(tmp_path, DCGM)))

    assert run.status == IngestRun.Status.SUCCEEDED, run.error
    assert "skipped 16 lines of metrics not used" in run.message
    mig = GpuHourly.objects.filter(gpu_uuid="GPU-a4b5c6d7-e8f9-0a1b-2c3d-4e5f60718293")
    assert {row.workload for row in mig} == {embedder, reranker}
    assert sum(Fraction(row.samples, row.gpu_samples) for row in mig) == 1
    unassigned = GpuHourly.objects.get(gpu_uuid="GPU-93a4b5c6-d7e8-f90a-1b2c-3d4e5f607182")
    assert unassigned.workload is None and unassigned.utilization_avg == 0


def test_the_same_file_twice_is_skipped(tmp_path):
    gpu_uri_ingest(uri=str(copy_to(tmp_path, NVIDIA_SMI)))
    count = GpuSample.objects.count()

    [again] = gpu_uri_ingest(uri=str(copy_to(tmp_path, NVIDIA_SMI)))

    assert again.status == IngestRun.Status.SKIPPED
    assert GpuSample.objects.count() == count


def test_an_overlapping_resend_replaces_the_samples_of_its_span(tmp_path):
    gpu_uri_ingest(uri=str(copy_to(tmp_path, NVIDIA_SMI)))
    count = GpuSample.objects.count()
    resent = copy_to(tmp_path, NVIDIA_SMI)
    resent.write_text(resent.read_text().replace("37 %", "38 %"))  # a collector re-sending, slightly different

    [run] = gpu_uri_ingest(uri=str(resent))

    assert run.status == IngestRun.Status.SUCCEEDED
    assert run.rows_replaced == count
    assert GpuSample.objects.count() == count


def test_a_malformed_file_fails_with_its_line_and_keeps_earlier_samples(tmp_path):
    gpu_uri_ingest(uri=str(copy_to(tmp_path, NVIDIA_SMI)))
    count = GpuSample.objects.count()
    broken = copy_to(tmp_path, NVIDIA_SMI, name="gpu-node-09.csv")
    lines = broken.read_text().splitlines()
    lines[3] = lines[3].replace("81920 MiB", "lots of MiB")
    broken.write_text("\n".join(lines) + "\n")

    [run] = gpu_uri_ingest(uri=str(broken))

    assert run.status == IngestRun.Status.FAILED
    assert "line 4" in run.error and str(broken) in run.error
    assert GpuSample.objects.count() == count


def test_the_command_prints_the_run(tmp_path, capsys):
    call_command("ingest_gpu", str(copy_to(tmp_path, DCGM)), format="dcgm")

    assert "succeeded (dcgm)" in capsys.readouterr().out
