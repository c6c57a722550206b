from finops.models.costs import CostRecord, DailySpend
from finops.models.ingestion import IngestRun
from finops.models.teams import Team, TeamMembership
from finops.models.workloads import AllocationRule, Workload

__all__ = [
    "AllocationRule",
    "CostRecord",
    "DailySpend",
    "IngestRun",
    "Team",
    "TeamMembership",
    "Workload",
]
