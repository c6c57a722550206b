"""Benchmarks: cost per unit, the cheapest instance meeting a latency target, and the CSV
import (tests/fixtures/benchmarks/)."""

from datetime import date
from decimal import Decimal
from fractions import Fraction
from io import BytesIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from finops.models import Benchmark, TeamMembership, Workload
from finops.selectors.benchmarks import benchmark_cost_per_unit, benchmarks_for_user, cheapest_benchmark
from finops.services.benchmarks import benchmarks_import_csv
from ingest.errors import IngestError
from tests.factories import BenchmarkFactory, MembershipFactory, TeamFactory, WorkloadFactory

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "benchmarks"
TOKENS = Benchmark.ThroughputUnit.TOKENS_PER_SECOND
REQUESTS = Benchmark.ThroughputUnit.REQUESTS_PER_SECOND
DAY = date(2026, 10, 1)


# --- cost per unit ---------------------------------------------------------------------


def test_cost_per_1m_tokens_is_hourly_price_over_tokens_per_hour():
    run = BenchmarkFactory.build(hourly_price=Decimal("32.7726"), throughput=Decimal("24000"), throughput_unit=TOKENS)

    # 32.7726 USD buys 24000 × 3600 = 86.4M tokens; 1M tokens cost 32.7726 / 86.4
    assert benchmark_cost_per_unit(run) == Decimal("0.3793125")


def test_cost_per_1k_requests_is_hourly_price_over_requests_per_hour():
    run = BenchmarkFactory.build(hourly_price=Decimal("3.60"), throughput=Decimal("0.5"), throughput_unit=REQUESTS)

    assert benchmark_cost_per_unit(run) == Decimal("2")  # 1800 requests an hour for 3.60


def test_a_cost_that_does_not_terminate_is_rounded_once_at_28_digits():
    run = BenchmarkFactory.build(hourly_price=Decimal("1.006"), throughput=Decimal("50"), throughput_unit=REQUESTS)

    cost = benchmark_cost_per_unit(run)

    assert cost == Decimal("0.005588888888888888888888888889")  # 1006 / 180000
    assert abs(Fraction(cost) - Fraction(1006, 180_000)) < Fraction(1, 10**30)


# --- cheapest instance -----------------------------------------------------------------


@pytest.fixture
def chat():
    """A token workload with a 200 ms target and three instances. Per 1M tokens: g6 0.1
    (p95 250 ms, too slow), g5 0.2 (180 ms), p4d 0.5 (95 ms)."""
    workload = WorkloadFactory(slug="chat", inference_unit=Workload.InferenceUnit.TOKEN, p95_latency_target_ms=Decimal("200"))
    BenchmarkFactory(workload=workload, instance_type="g6.xlarge", throughput=Decimal("1000"), throughput_unit=TOKENS,
                     p95_latency_ms=Decimal("250"), hourly_price=Decimal("0.36"), measured_on=DAY)
    BenchmarkFactory(workload=workload, instance_type="g5.xlarge", throughput=Decimal("1000"), throughput_unit=TOKENS,
                     p95_latency_ms=Decimal("180"), hourly_price=Decimal("0.72"), measured_on=DAY)
    BenchmarkFactory(workload=workload, instance_type="p4d.24xlarge", gpu_count=8, throughput=Decimal("20000"),
                     throughput_unit=TOKENS, p95_latency_ms=Decimal("95"), hourly_price=Decimal("36"), measured_on=DAY)
    return workload


def _names(costs):
    return [cost.benchmark.instance_type for cost in costs]


@pytest.mark.django_db
def test_the_cheapest_instance_meeting_the_workloads_target_wins_over_a_cheaper_slow_one(chat):
    choice = cheapest_benchmark(workload=chat)

    assert choice.chosen.benchmark.instance_type == "g5.xlarge"
    assert choice.chosen.cost_per_unit == Decimal("0.2")
    assert choice.latency_target_ms == Decimal("200")
    assert _names(choice.meeting_target) == ["g5.xlarge", "p4d.24xlarge"]
    assert _names(choice.rejected_for_latency) == ["g6.xlarge"]
    assert _names(choice.cheaper_but_too_slow) == ["g6.xlarge"]
    assert "Cheaper but too slow: g6.xlarge (p95 250" in choice.explanation


@pytest.mark.django_db
def test_a_target_given_by_the_caller_replaces_the_workloads(chat):
    choice = cheapest_benchmark(workload=chat, latency_target_ms=Decimal("100"))

    assert choice.chosen.benchmark.instance_type == "p4d.24xlarge"
    assert choice.chosen.cost_per_unit == Decimal("0.5")  # 36 / (20000 × 3600) × 1M
    assert _names(choice.rejected_for_latency) == ["g6.xlarge", "g5.xlarge"]


@pytest.mark.django_db
def test_without_any_target_the_cheapest_run_wins(chat):
    chat.p95_latency_target_ms = None
    chat.save()

    choice = cheapest_benchmark(workload=chat)

    assert choice.chosen.benchmark.instance_type == "g6.xlarge"
    assert choice.rejected_for_latency == []
    assert "no latency target" in choice.explanation


@pytest.mark.django_db
def test_a_latency_equal_to_the_target_meets_it(chat):
    choice = cheapest_benchmark(workload=chat, latency_target_ms=Decimal("180"))

    assert choice.chosen.benchmark.instance_type == "g5.xlarge"


@pytest.mark.django_db
def test_when_no_instance_is_fast_enough_none_is_chosen(chat):
    choice = cheapest_benchmark(workload=chat, latency_target_ms=Decimal("50"))

    assert choice.chosen is None
    assert len(choice.rejected_for_latency) == 3
    assert "None of the 3" in choice.explanation


@pytest.mark.django_db
def test_only_the_latest_run_of_an_instance_and_gpu_count_counts(chat):
    # g6 was re-measured after a driver change: now fast enough. Its old slow run must not
    # be listed, and a newer run on the same instance with 2 GPUs is a separate instance.
    BenchmarkFactory(workload=chat, instance_type="g6.xlarge", throughput=Decimal("1000"), throughput_unit=TOKENS,
                     p95_latency_ms=Decimal("150"), hourly_price=Decimal("0.54"), measured_on=date(2026, 10, 20))
    BenchmarkFactory(workload=chat, instance_type="g5.xlarge", gpu_count=2, throughput=Decimal("1000"),
                     throughput_unit=TOKENS, p95_latency_ms=Decimal("400"), hourly_price=Decimal("0.18"),
                     measured_on=date(2026, 10, 20))
    # An older run than the g5 1-GPU one on record is history, even though it was cheaper.
    BenchmarkFactory(workload=chat, instance_type="g5.xlarge", throughput=Decimal("1000"), throughput_unit=TOKENS,
                     p95_latency_ms=Decimal("100"), hourly_price=Decimal("0.01"), measured_on=date(2026, 9, 1))

    choice = cheapest_benchmark(workload=chat)

    assert choice.chosen.benchmark.instance_type == "g6.xlarge"
    assert choice.chosen.benchmark.measured_on == date(2026, 10, 20)
    assert choice.chosen.cost_per_unit == Decimal("0.15")
    assert [(c.benchmark.instance_type, c.benchmark.gpu_count) for c in choice.meeting_target] == [
        ("g6.xlarge", 1), ("g5.xlarge", 1), ("p4d.24xlarge", 8)
    ]
    assert [c.benchmark.hourly_price for c in choice.meeting_target if c.benchmark.instance_type == "g5.xlarge"] == [Decimal("0.72")]
    assert [(c.benchmark.instance_type, c.benchmark.gpu_count) for c in choice.rejected_for_latency] == [("g5.xlarge", 2)]
    assert choice.superseded == 2


@pytest.mark.django_db
def test_runs_in_another_unit_or_currency_are_listed_but_not_ranked(chat):
    # Per 1k requests and in EUR these are "cheaper" numbers, but not comparable ones.
    BenchmarkFactory(workload=chat, instance_type="cpu.large", throughput=Decimal("100"), throughput_unit=REQUESTS,
                     p95_latency_ms=Decimal("20"), hourly_price=Decimal("0.01"), measured_on=DAY)
    BenchmarkFactory(workload=chat, instance_type="eu.gpu", throughput=Decimal("1000"), throughput_unit=TOKENS,
                     p95_latency_ms=Decimal("20"), hourly_price=Decimal("0.01"), currency="EUR", measured_on=DAY)

    choice = cheapest_benchmark(workload=chat)

    assert choice.chosen.benchmark.instance_type == "g5.xlarge"
    assert (choice.throughput_unit, choice.currency) == (TOKENS, "USD")
    reasons = {item.cost.benchmark.instance_type: item.reason for item in choice.not_compared}
    assert "does not rank against costs per 1M tokens" in reasons["cpu.large"]
    assert "priced in EUR" in reasons["eu.gpu"]


@pytest.mark.django_db
def test_the_caller_may_rank_another_unit(chat):
    BenchmarkFactory(workload=chat, instance_type="cpu.large", throughput=Decimal("100"), throughput_unit=REQUESTS,
                     p95_latency_ms=Decimal("20"), hourly_price=Decimal("0.36"), measured_on=DAY)

    choice = cheapest_benchmark(workload=chat, throughput_unit=REQUESTS)

    assert choice.chosen.benchmark.instance_type == "cpu.large"
    assert choice.chosen.price_unit == "1k requests"
    assert choice.chosen.cost_per_unit == Decimal("0.001")
    assert len(choice.not_compared) == 3


@pytest.mark.django_db
def test_a_workload_without_benchmarks_has_no_choice():
    choice = cheapest_benchmark(workload=WorkloadFactory())

    assert choice.chosen is None
    assert "no benchmarks yet" in choice.explanation


@pytest.mark.django_db
def test_members_see_only_their_teams_benchmarks(chat):
    mine = BenchmarkFactory(workload=WorkloadFactory())
    member = MembershipFactory(team=mine.workload.team).user
    leader = MembershipFactory(role=TeamMembership.Role.LEADER).user

    assert list(benchmarks_for_user(member)) == [mine]
    assert benchmarks_for_user(leader).count() == 4


# --- CSV import ------------------------------------------------------------------------


@pytest.fixture
def team_workloads():
    team = TeamFactory()
    WorkloadFactory(team=team, slug="chat-assistant", inference_unit=Workload.InferenceUnit.TOKEN)
    WorkloadFactory(team=team, slug="search-rerank")
    return Workload.objects.filter(team=team)


def _import(content: bytes | str, team_workloads, **options):
    data = content.encode() if isinstance(content, str) else content
    return benchmarks_import_csv(stream=BytesIO(data), source_name="runs.csv", team_workloads=team_workloads, **options)


@pytest.mark.django_db
def test_it_imports_a_benchmark_file(team_workloads):
    result = _import((FIXTURES / "runs.csv").read_bytes(), team_workloads)

    assert (result.created, result.updated) == (4, 0)
    p4d = Benchmark.objects.get(instance_type="p4d.24xlarge")
    assert p4d.workload.slug == "chat-assistant"
    assert (p4d.provider_name, p4d.gpu_model, p4d.gpu_count, p4d.model_name) == ("AWS", "NVIDIA A100-SXM4-40GB", 8, "llama-3.1-8b")
    assert (p4d.throughput, p4d.throughput_unit) == (Decimal("24000"), TOKENS)
    assert (p4d.p95_latency_ms, p4d.hourly_price, p4d.currency) == (Decimal("95.25"), Decimal("32.7726"), "USD")
    assert (p4d.measured_on, p4d.notes) == (DAY, "tensor parallel 8, batch 64")
    rerank = Benchmark.objects.get(workload__slug="search-rerank")
    assert (rerank.throughput_unit, rerank.hourly_price) == (REQUESTS, Decimal("0.8536"))


@pytest.mark.django_db
def test_it_accepts_other_spellings_a_bom_and_absent_optional_columns(team_workloads):
    result = _import((FIXTURES / "spellings.csv").read_bytes(), team_workloads)

    assert result.created == 2
    chat = Benchmark.objects.get(workload__slug="chat-assistant")
    assert (chat.instance_type, chat.throughput, chat.p95_latency_ms) == ("g5.2xlarge", Decimal("1310.5"), Decimal("171.25"))
    assert (chat.hourly_price, chat.measured_on, chat.provider_name) == (Decimal("1.212"), date(2026, 10, 3), "AWS")
    assert (chat.currency, chat.gpu_model, chat.notes) == ("USD", "", "")
    # No unit column: each run is in the unit its workload counts inferences in.
    assert chat.throughput_unit == TOKENS
    rerank = Benchmark.objects.get(workload__slug="search-rerank")
    assert rerank.throughput_unit == REQUESTS
    # 0.7300000000004 has more decimals than a price stores: rounded half-even, not refused.
    assert rerank.hourly_price == Decimal("0.73")


@pytest.mark.django_db
def test_a_reimport_updates_the_runs_instead_of_duplicating_them(team_workloads):
    original = (FIXTURES / "runs.csv").read_text()
    _import(original, team_workloads)
    first_ids = set(Benchmark.objects.values_list("pk", flat=True))

    result = _import(original.replace("1.006,USD", "0.95,USD").replace("180.5", "175"), team_workloads)

    assert (result.created, result.updated) == (0, 4)
    assert set(Benchmark.objects.values_list("pk", flat=True)) == first_ids
    g5 = Benchmark.objects.get(instance_type="g5.xlarge")
    assert (g5.hourly_price, g5.p95_latency_ms) == (Decimal("0.95"), Decimal("175"))


@pytest.mark.django_db
def test_a_new_measurement_day_is_a_new_run(team_workloads):
    original = (FIXTURES / "runs.csv").read_text()
    _import(original, team_workloads)

    result = _import(original.replace("2026-10-01", "2026-11-01"), team_workloads)

    assert (result.created, result.updated) == (3, 1)
    assert Benchmark.objects.count() == 7


HEADER = "workload,instance_type,gpu_count,throughput,throughput_unit,p95_latency_ms,hourly_price,currency,measured_on,notes"
GOOD = "chat-assistant,g5.xlarge,1,1250,tokens/s,180,1.006,USD,2026-10-01,"
VALUES = dict(zip(HEADER.split(","), GOOD.split(","), strict=True))


def _row(**changes) -> str:
    return ",".join({**VALUES, **changes}.values())


BAD_ROWS = [
    # (changes to a good row, the column named, words in the message)
    ({"workload": "no-such-workload"}, "workload", "not the slug of a workload you may import"),
    ({"workload": ""}, "workload", "a value is required"),
    ({"instance_type": ""}, "instance_type", "a value is required"),
    ({"instance_type": "x" * 101}, "instance_type", "at most 100"),
    ({"throughput": "fast"}, "throughput", "'fast' is not a number"),
    # A thousands separator shifts every column after it: the row is refused as a whole.
    ({"throughput": "1,250"}, "", "the row has 11 fields, the header has 10"),
    ({"throughput": "0"}, "throughput", "more than zero"),
    ({"throughput": "-5"}, "throughput", "more than zero"),
    ({"throughput": "1e20"}, "throughput", "too large"),
    ({"throughput": "NaN"}, "throughput", "not a number"),
    ({"throughput_unit": "images/s"}, "throughput_unit", "not a throughput unit"),
    ({"gpu_count": "two"}, "gpu_count", "not a whole number"),
    ({"gpu_count": "1.5"}, "gpu_count", "not a whole number"),
    ({"p95_latency_ms": "-1"}, "p95_latency_ms", "cannot be negative"),
    ({"p95_latency_ms": ""}, "p95_latency_ms", "a value is required"),
    ({"hourly_price": "-1.006"}, "hourly_price", "a price cannot be negative"),
    ({"hourly_price": "$1.006"}, "hourly_price", "not a number"),
    ({"currency": "US$"}, "currency", "three-letter currency code"),
    ({"measured_on": "2026-13-01"}, "measured_on", "not a date"),
    ({"measured_on": "10/01/2026"}, "measured_on", "not a date"),
]


@pytest.mark.django_db
@pytest.mark.parametrize(("changes", "column", "words"), BAD_ROWS, ids=[f"{c}={v!r}"[:40] for ch, _, _ in BAD_ROWS for c, v in ch.items()])
def test_a_bad_row_names_file_line_and_column_and_nothing_is_written(team_workloads, changes, column, words):
    # Two good rows first: the failure on line 4 must not leave them behind.
    content = "\n".join([HEADER, GOOD, _row(instance_type="g6.xlarge"), _row(**{"instance_type": "g4dn.xlarge", **changes})]) + "\n"

    with pytest.raises(IngestError) as raised:
        _import(content, team_workloads)

    error = raised.value
    assert (error.source, error.line) == ("runs.csv", 4)
    assert error.column == column
    assert words in error.message
    assert str(error).startswith("runs.csv, line 4")
    assert not Benchmark.objects.exists()


@pytest.mark.django_db
def test_a_workload_of_another_team_is_refused_like_an_unknown_one(team_workloads):
    WorkloadFactory(slug="their-workload")
    content = "\n".join([HEADER, GOOD, _row(workload="their-workload")])

    with pytest.raises(IngestError) as raised:
        _import(content, team_workloads)

    assert (raised.value.line, raised.value.column) == (3, "workload")
    assert "'their-workload' is not the slug of a workload you may import benchmarks for" in str(raised.value)
    assert not Benchmark.objects.exists()


@pytest.mark.django_db
def test_the_same_run_twice_in_one_file_is_refused(team_workloads):
    content = "\n".join([HEADER, GOOD, _row(instance_type="g6.xlarge"), _row(hourly_price="2")])

    with pytest.raises(IngestError) as raised:
        _import(content, team_workloads)

    assert (raised.value.line, raised.value.column) == (4, "measured_on")
    assert "repeats the run on line 2" in raised.value.message


@pytest.mark.django_db
def test_line_numbers_count_lines_of_the_file_not_records(team_workloads):
    # A quoted note spanning two lines and a blank line: the bad row is on line 6.
    content = "\n".join([HEADER, GOOD[:-1] + ',"first line\nsecond line"', "", _row(instance_type="a"), _row(instance_type="b", throughput="x")])

    with pytest.raises(IngestError) as raised:
        _import(content, team_workloads)

    assert (raised.value.line, raised.value.column) == (6, "throughput")


@pytest.mark.django_db
def test_errors_name_the_column_as_the_file_spells_it(team_workloads):
    content = "Workload,Instance,P95 (ms),Price_Per_Hour,Throughput,Date\nchat-assistant,g5.xlarge,slow,1,10,2026-10-01\n"

    with pytest.raises(IngestError) as raised:
        _import(content, team_workloads)

    assert (raised.value.line, raised.value.column) == (2, "P95 (ms)")


@pytest.mark.django_db
def test_a_row_with_too_many_fields_is_refused(team_workloads):
    with pytest.raises(IngestError, match=r"line 3: the row has 11 fields, the header has 10"):
        _import("\n".join([HEADER, GOOD, GOOD + ",extra"]), team_workloads)


@pytest.mark.django_db
def test_a_missing_required_column_is_named(team_workloads):
    with pytest.raises(IngestError, match=r"runs.csv, line 1: required benchmark column p95_latency_ms is missing"):
        _import("workload,instance_type,throughput,hourly_price,measured_on\n", team_workloads)


@pytest.mark.django_db
def test_a_file_that_is_not_utf8_is_refused_at_its_line(team_workloads):
    content = "\n".join([HEADER, GOOD, _row(notes="caf\xe9")]).encode("latin-1")

    with pytest.raises(IngestError, match=r"line 3: the file is not UTF-8"):
        _import(content, team_workloads)


@pytest.mark.django_db
def test_an_empty_file_imports_nothing(team_workloads):
    result = _import(b"", team_workloads)

    assert (result.created, result.updated) == (0, 0)


@pytest.mark.django_db
def test_a_file_over_the_limit_is_refused_before_it_is_parsed(team_workloads, settings):
    content = "\n".join([HEADER, GOOD])
    settings.INGEST_UPLOAD_MAX_BYTES = len(content) - 1

    with pytest.raises(IngestError, match=r"runs.csv: the file is larger than the .* a benchmark import accepts"):
        _import(content, team_workloads)

    settings.INGEST_UPLOAD_MAX_BYTES = len(content)
    assert _import(content, team_workloads).created == 1


# --- management command ----------------------------------------------------------------


@pytest.mark.django_db
def test_the_command_imports_into_any_workload_and_prints_the_counts(team_workloads, capsys):
    path = FIXTURES / "runs.csv"

    call_command("import_benchmarks", str(path))
    call_command("import_benchmarks", str(path))

    output = capsys.readouterr().out
    assert f"{path}: 4 created, 0 updated" in output
    assert f"{path}: 0 created, 4 updated" in output
    assert Benchmark.objects.count() == 4


@pytest.mark.django_db
def test_the_command_fails_with_the_located_error(team_workloads, tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("\n".join([HEADER, GOOD, _row(hourly_price="-1")]))

    with pytest.raises(CommandError, match=rf"{path}, line 3, column 'hourly_price': a price cannot be negative"):
        call_command("import_benchmarks", str(path))
    assert not Benchmark.objects.exists()


def test_the_command_fails_on_a_missing_file(tmp_path):
    with pytest.raises(CommandError, match="No such file"):
        call_command("import_benchmarks", str(tmp_path / "absent.csv"))
