from finops.models.alerts import Alert, AlertDelivery, AlertRule
from finops.models.benchmarks import Benchmark, ManagedApiPrice
from finops.models.checklist import ChecklistItem, ChecklistStep
from finops.models.costs import CostRecord, DailyResourceSpend, DailySpend, LoadedBillingPeriod
from finops.models.gpu import GpuAssignmentRule, GpuDeviceDaily, GpuHourly, GpuSample, GpuWorkloadHourly
from finops.models.ingestion import DataSource, IngestRun
from finops.models.initiatives import Initiative
from finops.models.tco import TcoCategory, TcoLineItem, TcoRule
from finops.models.teams import Team, TeamMembership
from finops.models.volumes import InferenceVolume
from finops.models.workloads import AllocationRule, Workload

__all__ = [
    "Alert",
    "AlertDelivery",
    "AlertRule",
    "AllocationRule",
    "Benchmark",
    "ChecklistItem",
    "ChecklistStep",
    "CostRecord",
    "DailyResourceSpend",
    "DailySpend",
    "LoadedBillingPeriod",
    "DataSource",
    "GpuAssignmentRule",
    "GpuDeviceDaily",
    "GpuHourly",
    "GpuWorkloadHourly",
    "GpuSample",
    "InferenceVolume",
    "IngestRun",
    "Initiative",
    "ManagedApiPrice",
    "TcoCategory",
    "TcoLineItem",
    "TcoRule",
    "Team",
    "TeamMembership",
    "Workload",
]
