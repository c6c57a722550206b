"""Checks the management page tests share."""

from django.urls import reverse
from django.utils.html import escape


def assert_login_redirect(response) -> None:
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login") + "?next=")


def field_errors(response, field: str) -> list[str]:
    """The errors the re-rendered form shows on one field (the page must be a 200 re-render)."""
    assert response.status_code == 200, response.status_code
    form = response.context["form"]
    assert not form.non_field_errors(), form.non_field_errors()
    errors = list(form.errors.get(field, []))
    page = response.content.decode()
    assert all(f'<p class="error" role="alert">{escape(error)}</p>' in page for error in errors)
    return errors


def assert_has_csrf_token(response) -> None:
    assert response.status_code == 200
    assert 'name="csrfmiddlewaretoken"' in response.content.decode()
