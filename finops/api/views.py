"""REST API v1. Every queryset comes from a scoping selector, so a member asking for another
team's object gets a 404, exactly as the pages do."""

from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema
from rest_framework import generics, mixins, viewsets
from rest_framework.response import Response

from finops.api.filters import CostRecordFilter, IngestRunFilter
from finops.api.pagination import CostRecordPagination
from finops.api.permissions import LeaderWritesOthersRead, SeesAllTeams
from finops.api.serializers import (
    AllocationRuleSerializer,
    CostRecordSerializer,
    IngestRunSerializer,
    SpendQuerySerializer,
    SpendRowSerializer,
    TeamSerializer,
    WorkloadSerializer,
)
from finops.models import AllocationRule, IngestRun
from finops.selectors.access import cost_records_for_user, visible_teams, workloads_for_user
from finops.selectors.spend import SpendFilter, spend_aggregate
from finops.tasks import reassign_gpu_samples_on_commit


class TeamViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = TeamSerializer
    ordering_fields = ["name"]
    search_fields = ["name", "slug"]

    def get_queryset(self):
        return visible_teams(self.request.user).order_by("name")


class WorkloadViewSet(viewsets.ModelViewSet):
    serializer_class = WorkloadSerializer
    permission_classes = [LeaderWritesOthersRead]
    filterset_fields = ["team", "hosting", "inference_unit"]
    ordering_fields = ["name", "team"]
    search_fields = ["name", "slug", "model_name"]

    def get_queryset(self):
        return workloads_for_user(self.request.user).order_by("team__name", "name")

    def perform_destroy(self, instance):
        # Its GPU assignment rules go with it: the samples they matched are assigned again.
        rules = list(instance.gpu_assignment_rules.all())
        instance.delete()
        reassign_gpu_samples_on_commit(rules=rules)


class AllocationRuleViewSet(viewsets.ModelViewSet):
    serializer_class = AllocationRuleSerializer
    permission_classes = [LeaderWritesOthersRead]
    filterset_fields = ["workload", "enabled"]
    ordering_fields = ["priority", "id"]

    def get_queryset(self):
        return AllocationRule.objects.filter(workload__in=workloads_for_user(self.request.user)).order_by("priority", "id")


class CostRecordViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = CostRecordSerializer
    pagination_class = CostRecordPagination
    filterset_class = CostRecordFilter
    filter_backends = [DjangoFilterBackend]  # no ?ordering: the cursor fixes the order

    def get_queryset(self):
        return cost_records_for_user(self.request.user)


class IngestRunViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = IngestRunSerializer
    permission_classes = [SeesAllTeams]
    filterset_class = IngestRunFilter
    ordering_fields = ["started_at", "id"]
    queryset = IngestRun.objects.order_by("-started_at", "-id")


class SpendView(generics.GenericAPIView):
    """Spend per period and group, read from the same rollup as the dashboards."""

    serializer_class = SpendRowSerializer
    pagination_class = None
    filter_backends = []

    @extend_schema(
        parameters=[SpendQuerySerializer],
        responses=SpendRowSerializer(many=True),
    )
    def get(self, request):
        query = SpendQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data
        spend_filter = SpendFilter(start=params["start"], end=params["end"])
        rows = spend_aggregate(
            user=request.user, spend_filter=spend_filter, group_by=params["group_by"], granularity=params["granularity"]
        )
        return Response(SpendRowSerializer(rows, many=True).data)
