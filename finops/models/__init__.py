from finops.models.costs import CostRecord, DailySpend
from finops.models.ingestion import DataSource, IngestRun
from finops.models.teams import Team, TeamMembership
from finops.models.workloads import AllocationRule, Workload

__all__ = [
    "AllocationRule",
    "CostRecord",
    "DailySpend",
    "DataSource",
    "IngestRun",
    "Team",
    "TeamMembership",
    "Workload",
]
