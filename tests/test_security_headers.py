"""Headers, cookies, forms and secrets on every page the access matrix renders
(tests/test_access_matrix.py): a strict Content-Security-Policy that no page needs to bend,
secure cookies under the documented production environment, a CSRF token in every form and a
403 without it, and no secret in any page, error page or log line."""

import base64
import hashlib
import json
import logging
import re
import warnings
from html.parser import HTMLParser
from pathlib import Path

import plotly
import pytest
from django.conf import settings as django_settings
from django.http import HttpResponse
from django.test import Client
from django.urls import include, path, resolve, reverse

from tests.factories import UserFactory
from tests.test_access_matrix import (  # noqa: F401 - fixtures used here
    ROLES,
    ROWS,
    _fresh_throttles,
    body_of,
    client_for,
    people,
    world,
)
from tests.test_deploy_settings import PRODUCTION_ENV, settings_under

pytestmark = pytest.mark.django_db

SELF, NONE = "'self'", "'none'"
STRICT_DIRECTIVES = {
    "default-src": {SELF},
    "script-src": {SELF},
    "img-src": {SELF, "data:", "blob:"},
    "connect-src": {SELF},
    "frame-ancestors": {NONE},
    "form-action": {SELF},
    "base-uri": {SELF},
    "object-src": {NONE},
}
PLOTLY_STYLE_HASHES = {
    django_settings.PLOTLY_EMPTY_STYLE_HASH,
    django_settings.PLOTLY_PIXELATED_IMAGE_STYLE_HASH,
    django_settings.PLOTLY_MAPLIBRE_STYLE_HASH,
}


def _boom(request):
    raise RuntimeError("the view failed")


# A view that fails, beside every real URL, for the error-page tests (pytest.mark.urls).
urlpatterns = [path("boom/", _boom), path("", include("finops.urls"))]


# --- reading pages ----------------------------------------------------------------------------


class PageParts(HTMLParser):
    """The parts of a page a Content-Security-Policy judges, and its forms."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.scripts: list[dict] = []  # attributes of every <script>
        self.styles: list[dict] = []  # attributes of every <style>
        self.inline: list[str] = []  # style="", on…="" and javascript: URLs, which no policy here allows
        self.forms: list[dict] = []  # {"method", "action", "fields"}
        self._form: dict | None = None

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        for name, value in attrs:
            if name == "style" or name.startswith("on") or (value or "").strip().lower().startswith("javascript:"):
                self.inline.append(f"<{tag} {name}={value!r}>")
        if tag == "script":
            self.scripts.append(attributes)
        elif tag == "style":
            self.styles.append(attributes)
        elif tag == "form":
            self._form = {"method": (attributes.get("method") or "get").lower(),
                          "action": attributes.get("action", ""), "fields": []}
            self.forms.append(self._form)
        elif tag in ("input", "button", "select", "textarea") and self._form is not None:
            self._form["fields"].append(attributes.get("name"))

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None


def parts_of(html: str) -> PageParts:
    parser = PageParts()
    parser.feed(html)
    return parser


def policy_of(response) -> dict[str, set[str]]:
    header = response["Content-Security-Policy"]
    return {directive.split()[0]: set(directive.split()[1:]) for directive in header.split(";") if directive.strip()}


def rendered_pages(world, roles=("staff", "member_a")):
    """(role, url, response) for every page of the matrix that answers HTML to a GET."""
    for key, row in ROWS.items():
        if row.method != "get":
            continue
        query = row.query(world)
        url = reverse(key, kwargs=row.kwargs(world)) + (f"?{query}" if query else "")
        for role in roles:
            response = client_for(world, role).get(url)
            if response.get("Content-Type", "").startswith("text/html") and response.status_code in (200, 400):
                yield role, url, response


def admin_pages(world):
    """The admin as a superuser: its index, a list, an add form and a change form."""
    client = Client()
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    for url in (reverse("admin:index"), reverse("admin:finops_team_changelist"), reverse("admin:finops_team_add"),
                reverse("admin:finops_team_change", args=[world.team_a.pk])):
        response = client.get(url)
        assert response.status_code == 200, url
        yield "superuser", url, response


# --- Content-Security-Policy ----------------------------------------------------------------------


def test_every_page_sends_the_strict_policy(world):
    checked = 0
    for role, url, response in [*rendered_pages(world), *admin_pages(world)]:
        policy = policy_of(response)
        nonces = {source for source in policy["script-src"] if source.startswith("'nonce-")}
        for directive, sources in STRICT_DIRECTIVES.items():
            assert policy[directive] - nonces == sources, (url, directive, policy[directive])
        assert policy["style-src"] - nonces == {SELF, "'unsafe-hashes'", *PLOTLY_STYLE_HASHES}, url
        assert not any("unsafe-inline" in s or "unsafe-eval" in s for s in set().union(*policy.values())), url
        checked += 1
    assert checked > 60


def test_no_page_has_inline_code_but_the_swagger_start_up_with_its_nonce(world):
    for role, url, response in [*rendered_pages(world), *admin_pages(world)]:
        parts = parts_of(response.content.decode())
        nonces = {source[len("'nonce-"):-1] for source in policy_of(response)["script-src"] if source.startswith("'nonce-")}
        assert parts.inline == [], url
        for script in parts.scripts:
            # a file, figure data from json_script (not run), or the one start-up script by nonce
            assert "src" in script or script.get("type") == "application/json" or script.get("nonce") in nonces, (url, script)
        for style in parts.styles:
            assert style.get("nonce") in nonces, (url, style)
        assert not nonces or url == reverse("api-docs"), f"{url} has a nonce it does not use"


def test_the_swagger_page_works_under_the_policy_by_nonce(world):
    response = client_for(world, "member_a").get(reverse("api-docs"))

    policy = policy_of(response)
    [nonce] = [s for s in policy["script-src"] if s.startswith("'nonce-")]
    assert nonce in policy["style-src"]
    page = response.content.decode()
    assert page.count(f'nonce="{nonce[7:-1]}"') == 2  # the inline <style> and the start-up <script>
    assert "SwaggerUIBundle" in page and "/static/drf_spectacular_sidecar/swagger-ui-dist/" in page
    assert client_for(world, "member_a").get(reverse("api-docs"))["Content-Security-Policy"] != response[
        "Content-Security-Policy"], "a fresh nonce per response"


def _sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def test_the_style_hashes_are_those_of_the_installed_plotly_js():
    """plotly.js injects exactly these; after a plotly upgrade this says which hash changed."""
    bundle = (Path(plotly.__file__).parent / "package_data" / "plotly.min.js").read_text()
    maplibre = re.search(r'\.id="(?P<id>[0-9a-f]{64})",\w+\.textContent=(?P<q>[\'"])(?P<css>.*?)(?P=q)', bundle)
    declarations = re.search(r"CSS_DECLARATIONS=(\[\[\"image-rendering\".*?\]\])", bundle)

    assert 'createElement("style"),n.setAttribute("id",i),n.appendChild(document.createTextNode(""))' in bundle
    assert django_settings.PLOTLY_EMPTY_STYLE_HASH == _sha256("")
    assert maplibre and ".maplibregl-map" in maplibre["css"]
    assert django_settings.PLOTLY_MAPLIBRE_STYLE_HASH == _sha256(maplibre["css"])
    pixelated = "".join(f"{name}: {value}; " for name, value in json.loads(declarations[1]))
    assert django_settings.PLOTLY_PIXELATED_IMAGE_STYLE_HASH == _sha256(pixelated)


# --- cookies ----------------------------------------------------------------------------------------

COOKIE_SETTINGS = ("SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "SESSION_COOKIE_HTTPONLY", "CSRF_COOKIE_HTTPONLY",
                   "SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS", "SECURE_PROXY_SSL_HEADER")


def test_under_the_production_env_the_cookies_are_secure_and_the_session_is_http_only(settings):
    for name, value in settings_under(PRODUCTION_ENV, *COOKIE_SETTINGS).items():
        setattr(settings, name, tuple(value) if isinstance(value, list) else value)
    UserFactory(username="ana", password="correct horse battery staple")
    client = Client()

    assert client.get(reverse("login"))["Location"].startswith("https://"), "plain HTTP is redirected"
    form = client.get(reverse("login"), secure=True)
    logged_in = client.post(reverse("login"), {"username": "ana", "password": "correct horse battery staple"}, secure=True)

    csrf, session = form.cookies["csrftoken"], logged_in.cookies["sessionid"]
    assert logged_in.status_code == 302
    assert csrf["secure"] and session["secure"] and session["httponly"]
    assert session["samesite"] == csrf["samesite"] == "Lax"
    # Swagger UI's "Try it out" reads the CSRF cookie to send it back, so it stays readable.
    assert not csrf["httponly"]
    assert logged_in["Strict-Transport-Security"].startswith("max-age=31536000")


# --- CSRF ----------------------------------------------------------------------------------------------


def test_every_form_that_posts_carries_a_csrf_token(world):
    pages = [*rendered_pages(world), *admin_pages(world), ("anonymous", reverse("login"), Client().get(reverse("login")))]
    posting = 0
    for role, url, response in pages:
        if resolve(url.split("?")[0]).view_name == "alerts:unsubscribe":
            continue  # csrf_exempt on purpose: the signed token in the link is the credential
        for form in parts_of(response.content.decode()).forms:
            if form["method"] == "post":
                posting += 1
                assert "csrfmiddlewaretoken" in form["fields"], (role, url, form["action"])
    assert posting > 50


@pytest.mark.parametrize("key", sorted(k for k, row in ROWS.items() if row.method == "post"))
def test_a_post_without_the_csrf_token_is_refused(world, key):
    """Every action the matrix posts, as a person allowed to take it, from a client that
    enforces CSRF like a browser: 403. The alerts unsubscribe link is exempt by design (the
    signed token is the credential) and is not in this list: it is a GET in the matrix."""
    row = ROWS[key]
    role = "leader"  # allowed everywhere a member is, and on the leaders' pages
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.people[role])
    url = reverse(key, kwargs=row.kwargs(world))

    if row.json:
        response = client.post(url, data=json.dumps(row.data(world)), content_type="application/json")
    else:
        response = client.post(url, data=row.data(world))

    assert response.status_code == 403, (url, response.status_code)
    assert "CSRF" in body_of(response)


@pytest.mark.parametrize("name", ["login", "admin:login"])
def test_logging_in_without_the_csrf_token_is_refused(name):
    UserFactory(username="ana", password="correct horse battery staple", is_staff=True)
    client = Client(enforce_csrf_checks=True)

    refused = client.post(reverse(name), {"username": "ana", "password": "correct horse battery staple"})
    client.get(reverse(name))
    accepted = client.post(reverse(name), {"username": "ana", "password": "correct horse battery staple",
                                           "csrfmiddlewaretoken": client.cookies["csrftoken"].value})

    assert refused.status_code == 403
    assert accepted.status_code == 302


def test_the_api_over_a_session_needs_the_csrf_token_and_over_a_token_does_not(world):
    session_client = Client(enforce_csrf_checks=True)
    session_client.force_login(world.people["member_a"])
    url = reverse("api:alert-rule-unmute", kwargs={"pk": world.rule.pk})

    assert session_client.post(url).status_code == 403
    session_client.get(reverse("api-docs"))  # sets the cookie Swagger UI sends back
    assert session_client.post(url, HTTP_X_CSRFTOKEN=session_client.cookies["csrftoken"].value).status_code == 200

    from rest_framework.authtoken.models import Token

    token = Token.objects.create(user=world.people["member_a"])
    assert Client(enforce_csrf_checks=True).post(url, HTTP_AUTHORIZATION=f"Token {token.key}").status_code == 200


# --- secrets ------------------------------------------------------------------------------------------


CANARIES = {
    "SECRET_KEY": "canary-secret-key-5be0a4f7c1d9e2b3a6f8d0c4e7b1a9f2d5c8e0b3a6d9f1c4e7",
    "DATABASE_PASSWORD": "canary-db-password-91c3",
    "EMAIL_HOST_PASSWORD": "canary-smtp-password-44de",
    "AWS_SECRET_ACCESS_KEY": "canary-aws-secret-7f2b9c",
    "REDIS_PASSWORD": "canary-redis-password-0a8e",
}


@pytest.fixture
def canaries(settings, monkeypatch):
    """Every secret the app is configured with, set to a value no page may ever contain."""
    database_url = f"postgres://finops:{CANARIES['DATABASE_PASSWORD']}@db.internal:5432/finops"
    settings.SECRET_KEY = CANARIES["SECRET_KEY"]
    with warnings.catch_warnings():  # "can lead to unexpected behavior": open connections keep theirs
        warnings.simplefilter("ignore")
        settings.DATABASES = {alias: dict(config) for alias, config in settings.DATABASES.items()}
    settings.DATABASES["default"]["PASSWORD"] = CANARIES["DATABASE_PASSWORD"]
    settings.EMAIL_HOST_PASSWORD = CANARIES["EMAIL_HOST_PASSWORD"]
    settings.EMAIL_CONFIG = dict(settings.EMAIL_CONFIG, EMAIL_HOST_PASSWORD=CANARIES["EMAIL_HOST_PASSWORD"])
    settings.CELERY_RESULT_BACKEND = f"redis://:{CANARIES['REDIS_PASSWORD']}@redis.internal:6379/1"
    environment = {
        "DATABASE_URL": database_url,
        "EMAIL_URL": f"smtp+tls://finops:{CANARIES['EMAIL_HOST_PASSWORD']}@smtp.example.com:587",
        "AWS_SECRET_ACCESS_KEY": CANARIES["AWS_SECRET_ACCESS_KEY"],
        "REDIS_URL": f"redis://:{CANARIES['REDIS_PASSWORD']}@redis.internal:6379/0",
    }
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    return environment


def leaked(text: str) -> list[str]:
    return [name for name, value in CANARIES.items() if value in text]


def everything_in(response) -> str:
    return body_of(response) + "\n".join(f"{k}: {v}" for k, v in response.items())


@pytest.mark.urls(__name__)
def test_no_secret_in_any_page_error_page_or_log_line(canaries, world, settings, caplog):
    settings.DEBUG = False
    answers = []
    with caplog.at_level(logging.DEBUG):
        answers += [(url, r) for _, url, r in rendered_pages(world, roles=ROLES)]
        for key, row in ROWS.items():  # the downloads and JSON too, not only HTML
            if row.method == "get":
                answers.append((key, client_for(world, "staff").get(reverse(key, kwargs=row.kwargs(world)))))
        anonymous = Client(raise_request_exception=False)
        answers.append(("healthz", anonymous.get(reverse("healthz"))))
        answers.append(("404", anonymous.get("/no-such-page/")))
        answers.append(("500", anonymous.get("/boom/")))
        answers.append(("403 CSRF", Client(enforce_csrf_checks=True).post(reverse("login"), {"username": "x"})))
        for _ in range(settings.AXES_FAILURE_LIMIT):
            lockout = anonymous.post(reverse("login"), {"username": "x", "password": CANARIES["SECRET_KEY"]})
        answers.append(("lockout", lockout))

    assert [status for name, status in ((n, r.status_code) for n, r in answers) if name in ("404", "500")] == [404, 500]
    assert lockout.status_code == 429
    assert {url: leaked(everything_in(r)) for url, r in answers if leaked(everything_in(r))} == {}
    assert "the view failed" in caplog.text, "the 500 was logged"
    assert leaked(caplog.text) == []


@pytest.mark.urls(__name__)
def test_even_the_debug_error_page_hides_the_secrets(canaries, settings):
    """DEBUG is never on in production, but `make demo` runs with it, and a development server
    copies the whole environment (DATABASE_URL with its password) into request.META."""
    settings.DEBUG = True
    client = Client(raise_request_exception=False)

    response = client.get("/boom/", **canaries)

    page = response.content.decode()
    assert response.status_code == 500 and "RuntimeError" in page and "DATABASE_URL" in page
    assert "postgres://finops:********************@db.internal:5432/finops" in page
    assert leaked(page) == []
