from collections.abc import Callable

from finops.models import CostRecord, DataSource, IngestRun
from finops.services.rollups import daily_spend_refresh
from finops.services.tco import cost_records_classify
from finops.tasks import detect_spikes_on_commit
from ingest.errors import IngestError
from ingest.loader import LoadResult, LoadTimeRules, cost_batches_write, load_time_rules_read, loaded_periods_record
from ingest.readers import billing_reader
from ingest.readers.tabular import read_header
from ingest.services.runs import delivery_run, uri_deliveries
from ingest.sources import BILLING_SUFFIXES, Delivery, SourceFile

Progress = Callable[[int], None]


def billing_uri_ingest(
    *, uri: str, format: str = "auto", data_source: DataSource | None = None, progress: Progress | None = None
) -> list[IngestRun]:
    """Ingest every delivery of billing exports found at a file, folder or s3:// prefix."""
    found = uri_deliveries(uri=uri, kind=IngestRun.Kind.BILLING, data_source=data_source, suffixes=BILLING_SUFFIXES)
    return [
        billing_delivery_ingest(delivery=delivery, format=format, data_source=data_source, progress=progress)
        for delivery in found
    ]


def billing_delivery_ingest(
    *, delivery: Delivery, format: str = "auto", data_source: DataSource | None = None, progress: Progress | None = None,
    run: IngestRun | None = None,
) -> IngestRun:
    """Load the files of one delivery together, replacing the billing periods they restate, with
    each row allocated to a workload and classified into a TCO category as it is written, then
    refresh the daily rollup of the touched days. `run`: a run recorded before (an upload's
    QUEUED run) that records the outcome instead of a new one."""

    def load(run: IngestRun) -> None:
        result = LoadResult()
        rules = load_time_rules_read()
        formats = []
        for file in delivery.files:
            rows_before = result.rows_loaded
            formats.append(
                _load_file(file, run_id=run.pk, format=format, result=result, rules=rules, progress=progress)
            )
            if result.rows_loaded == rows_before:
                raise IngestError("the file has a header but no rows", source=file.name, line=2)
            run.files.append({"name": file.name, "fingerprint": file.fingerprint, "rows": result.rows_loaded - rows_before})
        loaded_periods_record(run_id=run.pk, result=result)
        presummed = result.spend.presummed(ingest_run_id=run.pk)
        if rules.classify_in_sql:
            cost_records_classify(records=CostRecord.objects.filter(ingest_run_id=run.pk))
            presummed = None  # summed with the categories the rows had before
        daily_spend_refresh(earliest=result.earliest_charge, latest=result.latest_charge, presummed=presummed)
        detect_spikes_on_commit(earliest=result.earliest_charge, latest=result.latest_charge)
        run.format = ", ".join(sorted(set(formats)))
        run.rows_loaded = result.rows_loaded
        run.rows_replaced = result.rows_replaced
        run.total_billed_cost = result.total_billed_cost
        run.total_effective_cost = result.total_effective_cost
        run.billing_periods = sorted([p, a, s.isoformat()] for p, a, s in result.periods)
        files = "1 file" if len(delivery.files) == 1 else f"{len(delivery.files)} files"
        run.message = f"{files}, {result.rows_loaded} rows loaded, {result.rows_replaced} replaced"

    return delivery_run(delivery=delivery, kind=IngestRun.Kind.BILLING, data_source=data_source, load=load, run=run)


def _load_file(
    file: SourceFile, *, run_id: int, format: str, result: LoadResult, rules: LoadTimeRules, progress: Progress | None
) -> str:
    with file.open() as stream:
        header = read_header(stream, source=file.name)
        reader = billing_reader(format, header, source=file.name)
        batches = reader.read(stream, source=file.name, header=header)
        cost_batches_write(run_id=run_id, batches=batches, result=result, rules=rules, progress=progress)
    return reader.FORMAT
