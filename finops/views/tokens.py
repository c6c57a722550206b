"""The user's own API token: create (shown once), replace, revoke. Tokens carry exactly the
user's access, so the API scopes a token client like the pages scope its owner."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST
from rest_framework.authtoken.models import Token

from finops.services.api_tokens import api_token_revoke, api_token_rotate


@login_required
def api_token(request):
    token = Token.objects.filter(user=request.user).only("created").first()
    return render(request, "account/api_token.html", {"token": token, "new_key": None})


@login_required
@require_POST
def api_token_create(request):
    key = api_token_rotate(user=request.user)
    token = Token.objects.get(user=request.user)
    return render(request, "account/api_token.html", {"token": token, "new_key": key})


@login_required
@require_POST
def api_token_delete(request):
    if api_token_revoke(user=request.user):
        messages.success(request, "Your API token was revoked: clients using it now get 401.")
    return redirect("api-token")
