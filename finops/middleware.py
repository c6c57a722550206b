from finops.selectors.access import access_memo_end, access_memo_start


class AccessMemoMiddleware:
    """Scopes the memo of who leads a team to one request, so a page's dozen scoping checks
    cost one query and a change of role counts from the next request."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = access_memo_start()
        try:
            return self.get_response(request)
        finally:
            access_memo_end(token)
