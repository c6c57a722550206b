"""Billing exports uploaded by other tools. The files are stored and recorded as a QUEUED ingest
run at once; a worker loads them. The answer is 202 with the run and the URL to poll
(GET /api/v1/ingest-runs/<id>/) until its status is succeeded, skipped or failed.

Runs span every team, so, like the upload page, only leaders and staff may upload."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import generics, serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response

from finops.api.permissions import SeesAllTeams
from finops.api.serializers import IngestRunSerializer
from ingest.readers import BILLING_READERS
from ingest.services.uploads import billing_upload_start, billing_upload_validate
from ingest.upload_handlers import upload_refusal

FINISHED = "succeeded, skipped or failed"


@extend_schema_field({"type": "string", "format": "binary"})
class _UploadedFile(serializers.FileField):
    """A file in the request body (the schema's default for a FileField is the URL it is served at)."""


class BillingUploadSerializer(serializers.Serializer):
    files = serializers.ListField(
        child=_UploadedFile(),
        allow_empty=False,
        help_text="One export, or all the part files of one export (repeat the field): they are loaded together, "
        "as one delivery. CSV, gzip'd CSV, Parquet or JSON lines.",
    )
    format = serializers.ChoiceField(
        choices=[("auto", "Detect from the header"), *((name, reader.LABEL) for name, reader in BILLING_READERS.items())],
        default="auto",
    )

    def validate_files(self, files):
        billing_upload_validate(files=files)
        return files


class QueuedIngestRunSerializer(IngestRunSerializer):
    url = serializers.HyperlinkedIdentityField(
        view_name="api:ingest-run-detail", help_text=f"Poll this until the status is {FINISHED}."
    )

    class Meta(IngestRunSerializer.Meta):
        fields = ["url", *IngestRunSerializer.Meta.fields]


class BillingUploadView(generics.GenericAPIView):
    """Upload billing export files (multipart/form-data) and start their ingestion."""

    permission_classes = [SeesAllTeams]
    parser_classes = [MultiPartParser]
    serializer_class = BillingUploadSerializer
    pagination_class = None
    filter_backends = []

    @extend_schema(
        request={"multipart/form-data": BillingUploadSerializer},
        responses={
            202: OpenApiResponse(
                QueuedIngestRunSerializer,
                description=f"Queued (the run's status is queued, or already running or {FINISHED}); "
                "poll `url`, also sent as the Location header.",
            ),
            400: OpenApiResponse(OpenApiTypes.OBJECT, description="Field errors, e.g. {\"files\": [\"...\"]}.",
                                 examples=[OpenApiExample("No file", value={"files": ["This field is required."]})]),
            411: OpenApiResponse(OpenApiTypes.OBJECT, description="Sent in chunks without a Content-Length: "
                                 "such a body is not read."),
            413: OpenApiResponse(OpenApiTypes.OBJECT, description="Over INGEST_UPLOAD_MAX_BYTES, refused before "
                                 "any file was stored: {\"files\": [\"... the limit is ...\"]}."),
        },
    )
    def post(self, request):
        incoming = BillingUploadSerializer(data=request.data)
        refusal = upload_refusal(request)  # known once request.data has been parsed, above
        if refusal:
            return Response({"files": [refusal.message]}, status=refusal.status)
        incoming.is_valid(raise_exception=True)
        run = billing_upload_start(
            files=incoming.validated_data["files"], format=incoming.validated_data["format"], uploaded_by=request.user
        )
        run.refresh_from_db()  # with eager Celery (no broker) it has already finished
        answer = QueuedIngestRunSerializer(run, context={"request": request}).data
        return Response(answer, status=status.HTTP_202_ACCEPTED, headers={"Location": answer["url"]})
