from datetime import date
from decimal import Decimal

import factory
from django.contrib.auth import get_user_model

from finops.models import (
    AllocationRule,
    Benchmark,
    ChecklistItem,
    ChecklistStep,
    Initiative,
    ManagedApiPrice,
    TcoCategory,
    TcoLineItem,
    TcoRule,
    Team,
    TeamMembership,
    Workload,
)


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.com")
    password = factory.django.Password("correct horse battery staple")


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team

    name = factory.Sequence(lambda n: f"Team {n}")
    slug = factory.Sequence(lambda n: f"team-{n}")


class MembershipFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TeamMembership

    user = factory.SubFactory(UserFactory)
    team = factory.SubFactory(TeamFactory)
    role = TeamMembership.Role.MEMBER


class WorkloadFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Workload

    team = factory.SubFactory(TeamFactory)
    name = factory.Sequence(lambda n: f"Workload {n}")
    slug = factory.Sequence(lambda n: f"workload-{n}")


class AllocationRuleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AllocationRule

    workload = factory.SubFactory(WorkloadFactory)
    tag_key = "workload"
    tag_value = factory.LazyAttribute(lambda rule: rule.workload.slug)


class TcoRuleFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TcoRule

    name = factory.Sequence(lambda n: f"Rule {n}")
    service_name = "*"
    category = TcoCategory.OTHER


class TcoLineItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = TcoLineItem

    workload = factory.SubFactory(WorkloadFactory)
    team = factory.LazyAttribute(lambda item: item.workload.team if item.workload else TeamFactory())
    category = TcoCategory.LICENSING
    description = "Model licence"
    amount = Decimal("300.00")
    start_date = date(2026, 1, 1)


class BenchmarkFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Benchmark

    workload = factory.SubFactory(WorkloadFactory)
    instance_type = factory.Sequence(lambda n: f"g5.{n}xlarge")
    gpu_model = "NVIDIA A10G"
    throughput = Decimal("50")
    p95_latency_ms = Decimal("120")
    hourly_price = Decimal("1.006")
    measured_on = date(2026, 10, 1)


class ManagedApiPriceFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ManagedApiPrice

    provider_name = "OpenAI"
    model_name = factory.Sequence(lambda n: f"model-{n}")
    input_price_per_1m_tokens = Decimal("0.15")
    output_price_per_1m_tokens = Decimal("0.60")


class InitiativeFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Initiative
        skip_postgeneration_save = True

    title = factory.Sequence(lambda n: f"Initiative {n}")
    team = factory.SubFactory(TeamFactory)
    technique = Initiative.Technique.QUANTIZATION

    @factory.post_generation
    def workloads(self, create, extracted, **kwargs):
        if create and extracted:
            self.workloads.set(extracted)


class ChecklistItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ChecklistItem

    team = factory.SubFactory(TeamFactory)
    step = ChecklistStep.AUDIT_TCO
