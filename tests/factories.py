import factory
from django.contrib.auth import get_user_model

from finops.models import AllocationRule, Team, TeamMembership, Workload


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
