from rest_framework.authtoken.models import Token


def api_token_rotate(*, user) -> str:
    """Replace the user's API token with a new one and return its key. The old key stops
    working at once; the new one is shown to the user this once."""
    Token.objects.filter(user=user).delete()
    return Token.objects.create(user=user).key


def api_token_revoke(*, user) -> bool:
    deleted, _ = Token.objects.filter(user=user).delete()
    return bool(deleted)
