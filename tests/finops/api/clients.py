"""What the API tests do over and over: act as a user, read the ids of a list answer."""

from rest_framework.test import APIClient


def as_user(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def ids(response) -> set[int]:
    return {row["id"] for row in response.json()["results"]}
