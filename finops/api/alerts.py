"""Alert rules and alerts in the REST API. Querysets come from the scoping selectors, so a
member asking for another team's rule or alert gets a 404, as on the pages. Leaders and staff
create and change rules; anyone who sees a rule or alert may mute, acknowledge or resolve it."""

from datetime import timedelta

import django_filters
from django.contrib.auth import get_user_model
from django.utils import timezone
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from finops.api.permissions import LeaderWritesOthersRead
from finops.models import Alert, AlertDelivery, AlertRule, Team, Workload
from finops.selectors.access import visible_teams
from finops.selectors.alerts import alert_rules_for_user, alerts_for_user, rule_visible_to
from finops.services.alert_email import dashboard_url
from finops.services.alerts import (
    alert_acknowledge,
    alert_resolve,
    alert_rule_mute,
    alert_rule_subscribe,
    alert_rule_unmute,
    alert_rule_unsubscribe,
)

MONEY = {"max_digits": 24, "decimal_places": 10}


class AlertRuleSerializer(serializers.ModelSerializer):
    threshold = serializers.DecimalField(
        max_digits=24, decimal_places=4, min_value=0, required=False,
        help_text="z-score, percent, or the daily budget, depending on the method (default per method).",
    )
    email_addresses = serializers.ListField(
        child=serializers.EmailField(), source="extra_addresses", required=False, help_text="Extra recipients."
    )
    scope_label = serializers.CharField(read_only=True)
    subscribed = serializers.SerializerMethodField()

    class Meta:
        model = AlertRule
        fields = [
            "id", "name", "team", "workload", "service_name", "tco_category", "currency", "scope_label", "method", "threshold",
            "min_amount", "window_days", "cooldown_days", "notify_team", "recipients", "email_addresses",
            "enabled", "muted_until", "is_default", "subscribed",
        ]
        read_only_fields = ["muted_until", "is_default"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is not None:
            self.fields["team"].queryset = visible_teams(request.user)
            self.fields["workload"].queryset = Workload.objects.filter(team__in=visible_teams(request.user))
            self.fields["recipients"].child_relation.queryset = get_user_model().objects.filter(is_active=True)

    def get_subscribed(self, rule) -> bool:
        request = self.context.get("request")
        return bool(request) and all(user.pk != request.user.pk for user in rule.unsubscribed.all())

    def validate(self, attrs):
        merged = {name: getattr(self.instance, name, None) for name in ("team", "workload", "method", "threshold", "currency")}
        merged.update({name: value for name, value in attrs.items() if name in merged})
        method = merged["method"] or AlertRule.Method.ROBUST_ZSCORE
        workload, team = merged["workload"], merged["team"]
        if workload is not None:
            if team is not None and workload.team_id != team.pk:
                raise ValidationError({"workload": "The workload belongs to another team."})
            attrs["team"] = workload.team
        if merged["threshold"] is None:
            if method == AlertRule.Method.DAILY_BUDGET:
                raise ValidationError({"threshold": "A daily budget needs its amount."})
            attrs["threshold"] = AlertRule.DEFAULT_THRESHOLDS[method]
        if method == AlertRule.Method.DAILY_BUDGET and not merged["currency"]:
            raise ValidationError({"currency": "A daily budget needs its currency."})
        if "extra_addresses" in attrs:
            attrs["email_addresses"] = "\n".join(attrs.pop("extra_addresses"))
        probe = AlertRule(team=attrs.get("team", merged["team"]))
        blind = [user.username for user in attrs.get("recipients", []) if not rule_visible_to(probe, user)]
        if blind:
            raise ValidationError({"recipients": f"Not allowed to see this scope: {', '.join(blind)}."})
        return attrs


class AlertDeliverySerializer(serializers.ModelSerializer):
    class Meta:
        model = AlertDelivery
        fields = ["email", "status", "attempts", "last_error", "sent_at"]


class AlertSerializer(serializers.ModelSerializer):
    team = serializers.IntegerField(source="rule.team_id", read_only=True, allow_null=True)
    excess_amount = serializers.DecimalField(**MONEY, read_only=True)
    acknowledged_by = serializers.StringRelatedField()
    resolved_by = serializers.StringRelatedField()
    deliveries = AlertDeliverySerializer(many=True, read_only=True)
    dashboard_url = serializers.SerializerMethodField()

    class Meta:
        model = Alert
        fields = [
            "id", "rule", "team", "scope_label", "day", "currency", "observed_amount", "expected_amount",
            "excess_amount", "details", "drivers", "state", "acknowledged_by", "acknowledged_at", "resolved_by",
            "resolved_at", "notification_note", "deliveries", "dashboard_url", "created_at", "updated_at",
        ]
        read_only_fields = fields

    def get_dashboard_url(self, alert) -> str:
        return dashboard_url(alert)


class MuteSerializer(serializers.Serializer):
    days = serializers.IntegerField(min_value=1, max_value=365, default=7)


class AlertFilter(django_filters.FilterSet):
    start = django_filters.DateFilter(field_name="day", lookup_expr="gte")
    end = django_filters.DateFilter(field_name="day", lookup_expr="lte")
    team = django_filters.ModelChoiceFilter(field_name="rule__team", queryset=Team.objects.all())

    class Meta:
        model = Alert
        fields = ["state", "rule", "currency"]


class AlertRuleViewSet(viewsets.ModelViewSet):
    serializer_class = AlertRuleSerializer
    filterset_fields = ["team", "workload", "method", "enabled"]
    ordering_fields = ["name", "id"]
    search_fields = ["name", "service_name"]

    def get_queryset(self):
        return alert_rules_for_user(self.request.user).prefetch_related("recipients", "unsubscribed").order_by("name", "id")

    def get_permissions(self):
        if self.action in {"mute", "unmute", "subscribe", "unsubscribe"}:
            return [IsAuthenticated()]
        return [LeaderWritesOthersRead()]

    def perform_destroy(self, instance):
        if instance.is_default:
            raise ValidationError({"detail": "A team's default rule comes back when deleted: disable it instead."})
        instance.delete()

    @extend_schema(request=MuteSerializer, responses=AlertRuleSerializer)
    @action(detail=True, methods=["post"])
    def mute(self, request, pk=None, **kwargs):
        """Record alerts but mail nobody for `days` days (default 7)."""
        query = MuteSerializer(data=request.data)
        query.is_valid(raise_exception=True)
        until = timezone.now() + timedelta(days=query.validated_data["days"])
        rule = alert_rule_mute(rule=self.get_object(), until=until)
        return Response(self.get_serializer(rule).data)

    @extend_schema(request=None, responses=AlertRuleSerializer)
    @action(detail=True, methods=["post"])
    def unmute(self, request, pk=None, **kwargs):
        rule = alert_rule_unmute(rule=self.get_object())
        return Response(self.get_serializer(rule).data)

    @extend_schema(request=None, responses=AlertRuleSerializer)
    @action(detail=True, methods=["post"])
    def unsubscribe(self, request, pk=None, **kwargs):
        """Stop mailing the requesting user about this rule."""
        rule = self.get_object()
        alert_rule_unsubscribe(rule=rule, user=request.user)
        return Response(self.get_serializer(rule).data)

    @extend_schema(request=None, responses=AlertRuleSerializer)
    @action(detail=True, methods=["post"])
    def subscribe(self, request, pk=None, **kwargs):
        rule = self.get_object()
        alert_rule_subscribe(rule=rule, user=request.user)
        return Response(self.get_serializer(rule).data)


class AlertViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    serializer_class = AlertSerializer
    filterset_class = AlertFilter
    ordering_fields = ["day", "id", "observed_amount"]

    def get_queryset(self):
        return alerts_for_user(self.request.user).order_by("-day", "-id")

    @extend_schema(request=None, responses=AlertSerializer)
    @action(detail=True, methods=["post"])
    def acknowledge(self, request, pk=None, **kwargs):
        alert = alert_acknowledge(alert=self.get_object(), user=request.user)
        return Response(self.get_serializer(alert).data)

    @extend_schema(request=None, responses=AlertSerializer)
    @action(detail=True, methods=["post"])
    def resolve(self, request, pk=None, **kwargs):
        alert = alert_resolve(alert=self.get_object(), user=request.user)
        return Response(self.get_serializer(alert).data)
