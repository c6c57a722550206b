"""Inference volumes pushed by the serving stack, and the unit costs they give."""

from django.db import transaction
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.response import Response

from finops.api.flat import FlatRowsSerializer
from finops.models import InferenceVolume, Workload
from finops.selectors.access import workloads_for_user
from finops.selectors.spend import SpendFilter
from finops.selectors.unit_costs import unit_costs_daily
from finops.services.volumes import VolumeRow, inference_volumes_upsert

MAX_ROWS_PER_PUSH = 10_000


class _SlugField(serializers.SlugRelatedField):
    def to_internal_value(self, data):
        # PostgreSQL text cannot hold NUL: such a slug is unknown, not a 500.
        if isinstance(data, str) and "\x00" in data:
            self.fail("does_not_exist", slug_name=self.slug_field, value=data)
        return super().to_internal_value(data)


class VolumeInSerializer(serializers.Serializer):
    workload = _SlugField(slug_field="slug", queryset=Workload.objects.none())
    day = serializers.DateField()
    requests = serializers.IntegerField(min_value=0)
    input_tokens = serializers.IntegerField(min_value=0, default=0)
    output_tokens = serializers.IntegerField(min_value=0, default=0)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Only workloads the caller may see are valid: another team's slug reads as unknown.
        request = self.context.get("request")
        if request:
            self.fields["workload"].queryset = workloads_for_user(request.user)


class VolumeOutSerializer(serializers.ModelSerializer):
    workload = serializers.SlugRelatedField(slug_field="slug", read_only=True)

    class Meta:
        model = InferenceVolume
        fields = ["workload", "day", "requests", "input_tokens", "output_tokens", "source", "updated_at"]


class _PaginatedReadsOnly(AutoSchema):
    """POST answers a plain list, not a page: only GET is documented as paginated."""

    def _get_paginator(self):
        return super()._get_paginator() if self.method == "GET" else None


class InferenceVolumeView(generics.ListCreateAPIView):
    """GET lists volumes; POST sets volumes for many (workload, day) pairs at once.

    The whole batch is validated before anything is written, and each pair's figures are set,
    not added: a client that retries the same batch changes nothing."""

    serializer_class = VolumeOutSerializer
    filterset_fields = ["workload", "day", "source"]
    schema = _PaginatedReadsOnly()

    def get_queryset(self):
        return InferenceVolume.objects.filter(workload__in=workloads_for_user(self.request.user)).select_related("workload").order_by("-day", "workload__slug")

    @extend_schema(request=VolumeInSerializer(many=True), responses={201: VolumeOutSerializer(many=True)})
    def post(self, request):
        incoming = VolumeInSerializer(data=request.data, many=True, context={"request": request})
        incoming.is_valid(raise_exception=True)
        if len(incoming.validated_data) > MAX_ROWS_PER_PUSH:
            return Response({"detail": f"Send at most {MAX_ROWS_PER_PUSH} rows per request."}, status=status.HTTP_400_BAD_REQUEST)
        rows = [VolumeRow(**item) for item in incoming.validated_data]
        with transaction.atomic():
            inference_volumes_upsert(rows=rows, source=InferenceVolume.Source.API)
        stored = self.get_queryset().filter(day__in={row.day for row in rows}, workload__in={row.workload for row in rows})
        return Response(VolumeOutSerializer(stored, many=True).data, status=status.HTTP_201_CREATED)


class UnitCostQuerySerializer(serializers.Serializer):
    start = serializers.DateField()
    end = serializers.DateField()

    def validate(self, attrs):
        if attrs["start"] > attrs["end"]:
            raise serializers.ValidationError({"end": "end must not be before start."})
        return attrs


class UnitCostSerializer(serializers.Serializer):
    day = serializers.DateField()
    workload = serializers.CharField()
    billing_currency = serializers.CharField()
    effective_cost = serializers.DecimalField(max_digits=24, decimal_places=10)
    requests = serializers.IntegerField()
    tokens = serializers.DecimalField(max_digits=28, decimal_places=10)
    cost_per_1k_requests = serializers.DecimalField(max_digits=28, decimal_places=10, allow_null=True)
    cost_per_1m_tokens = serializers.DecimalField(max_digits=28, decimal_places=10, allow_null=True)

    class Meta:
        list_serializer_class = FlatRowsSerializer  # a row per workload and day


class UnitCostView(generics.GenericAPIView):
    """Cost per 1,000 requests and per 1M tokens per workload and day."""

    serializer_class = UnitCostSerializer
    pagination_class = None
    filter_backends = []

    @extend_schema(parameters=[UnitCostQuerySerializer], responses=UnitCostSerializer(many=True))
    def get(self, request):
        query = UnitCostQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        rows = unit_costs_daily(user=request.user, spend_filter=SpendFilter(**query.validated_data))
        return Response(UnitCostSerializer(rows, many=True).data)
