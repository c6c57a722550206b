"""GET /api/v1/export/focus.csv: the cost records the user may see, as FOCUS 1.2 CSV,
streamed. Scoped exactly like /api/v1/cost-records/."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from django.http import StreamingHttpResponse
from rest_framework import serializers
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.views import APIView

from finops.selectors.access import cost_records_for_user
from finops.selectors.focus_export import FOCUS_VERSION, focus_csv_lines, focus_rows


class FocusExportQuerySerializer(serializers.Serializer):
    start = serializers.DateField(required=False, help_text="First charge day, inclusive (reporting time zone).")
    end = serializers.DateField(required=False, help_text="Last charge day, inclusive (reporting time zone).")

    def validate(self, attrs):
        if "start" in attrs and "end" in attrs and attrs["start"] > attrs["end"]:
            raise serializers.ValidationError({"end": "end must not be before start."})
        return attrs


class JsonErrorsNegotiation(BaseContentNegotiation):
    """The CSV bypasses renderers; errors (400, 401) are always JSON, whatever Accept says."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None


class FocusExportView(APIView):
    content_negotiation_class = JsonErrorsNegotiation

    @extend_schema(
        operation_id="export_focus_csv",
        summary=f"Cost records as a FOCUS {FOCUS_VERSION} CSV",
        parameters=[FocusExportQuerySerializer],
        responses={
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="FOCUS 1.2 cost and usage CSV"),
        },
    )
    def get(self, request):
        query = FocusExportQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        rows = focus_rows(records=cost_records_for_user(request.user), **query.validated_data)
        response = StreamingHttpResponse(focus_csv_lines(rows), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="focus-cost-and-usage.csv"'
        return response
