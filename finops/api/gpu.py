"""GPU samples pushed by collectors that cannot write files (a sidecar, a scheduler hook).
GPUs belong to hosts, not teams, and a push can replace any host's samples over its span, so
only leaders and staff (or their service accounts' tokens) may push."""

from datetime import UTC, timedelta

import pyarrow as pa
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.response import Response

from finops.api.permissions import SeesAllTeams
from finops.api.serializers import IngestRunSerializer
from finops.models import IngestRun
from ingest.gpu_schema import GPU_SAMPLE_COLUMN_NAMES, GPU_SAMPLE_SCHEMA
from ingest.services.gpu import gpu_samples_push

MAX_SAMPLES_PER_PUSH = 50_000
# The hourly rollup is rebuilt over the span a push covers: a push is recent metrics, and two
# samples years apart must not make one request rebuild years of rollups.
MAX_PUSH_SPAN = timedelta(days=31)
TEXT_LIMIT = 255


def _text(**kwargs):
    return serializers.CharField(max_length=TEXT_LIMIT, **kwargs)


def _percent(**kwargs):
    return serializers.FloatField(min_value=0, max_value=100, **kwargs)


class GpuSampleInSerializer(serializers.Serializer):
    sampled_at = serializers.DateTimeField(help_text="ISO 8601; without an offset it is read as UTC.")
    host = _text()
    gpu_uuid = _text()
    mig_instance = _text(required=False, allow_blank=True, default="")
    gpu_index = _text(required=False, allow_blank=True, default="")
    pci_bus_id = _text(required=False, allow_blank=True, default="")
    model_name = _text(required=False, allow_blank=True, default="")
    pod = _text(required=False, allow_blank=True, default="")
    namespace = _text(required=False, allow_blank=True, default="")
    container = _text(required=False, allow_blank=True, default="")
    utilization = _percent(help_text="Percent of the interval the GPU was busy, 0-100.")
    memory_utilization = _percent(required=False, allow_null=True, default=None)
    memory_used_mib = serializers.FloatField(min_value=0, required=False, allow_null=True, default=None)
    memory_total_mib = serializers.FloatField(min_value=0, required=False, allow_null=True, default=None)
    power_watts = serializers.FloatField(min_value=0, required=False, allow_null=True, default=None)

    def validate(self, attrs):
        for name, value in attrs.items():
            if isinstance(value, str) and "\x00" in value:
                raise serializers.ValidationError({name: "Text cannot contain NUL characters."})
        return attrs


class GpuSamplePushView(generics.GenericAPIView):
    """POST a list of samples. The whole list is validated before anything is written (errors
    keyed by row index); it is then loaded as one ingest run, whose record is returned."""

    permission_classes = [SeesAllTeams]
    serializer_class = GpuSampleInSerializer
    pagination_class = None
    filter_backends = []

    @extend_schema(request=GpuSampleInSerializer(many=True, max_length=MAX_SAMPLES_PER_PUSH),
                   responses={201: IngestRunSerializer, 200: IngestRunSerializer, 400: OpenApiTypes.OBJECT})
    def post(self, request):
        incoming = GpuSampleInSerializer(data=request.data, many=True, max_length=MAX_SAMPLES_PER_PUSH)
        incoming.is_valid(raise_exception=True)
        rows = incoming.validated_data
        if not rows:
            return Response({"detail": "Send at least one sample."}, status=status.HTTP_400_BAD_REQUEST)
        if len(rows) > MAX_SAMPLES_PER_PUSH:
            return Response({"detail": f"Send at most {MAX_SAMPLES_PER_PUSH} samples per request."},
                            status=status.HTTP_400_BAD_REQUEST)
        for row in rows:
            row["sampled_at"] = row["sampled_at"].astimezone(UTC)
        times = [row["sampled_at"] for row in rows]
        if max(times) - min(times) > MAX_PUSH_SPAN:
            return Response({"detail": f"A push may span at most {MAX_PUSH_SPAN.days} days of samples; split it."},
                            status=status.HTTP_400_BAD_REQUEST)
        batch = pa.RecordBatch.from_pylist([{name: row[name] for name in GPU_SAMPLE_COLUMN_NAMES} for row in rows],
                                           schema=GPU_SAMPLE_SCHEMA)
        run = gpu_samples_push(batch=batch, label=f"API push by {request.user.get_username()}")
        answer = {IngestRun.Status.SUCCEEDED: status.HTTP_201_CREATED, IngestRun.Status.SKIPPED: status.HTTP_200_OK}
        return Response(IngestRunSerializer(run).data, status=answer.get(run.status, status.HTTP_400_BAD_REQUEST))
