from finops.models.alerts import Alert, AlertDelivery, AlertRule
from finops.models.costs import CostRecord, DailySpend
from finops.models.gpu import GpuAssignmentRule, GpuHourly, GpuSample
from finops.models.ingestion import DataSource, IngestRun
from finops.models.teams import Team, TeamMembership
from finops.models.volumes import InferenceVolume
from finops.models.workloads import AllocationRule, Workload

__all__ = [
    "Alert",
    "AlertDelivery",
    "AlertRule",
    "AllocationRule",
    "CostRecord",
    "DailySpend",
    "DataSource",
    "GpuAssignmentRule",
    "GpuHourly",
    "GpuSample",
    "IngestRun",
    "InferenceVolume",
    "Team",
    "TeamMembership",
    "Workload",
]
