from rest_framework.pagination import CursorPagination, LimitOffsetPagination


class DefaultPagination(LimitOffsetPagination):
    default_limit = 100
    max_limit = 1000


class CostRecordPagination(CursorPagination):
    """Cost tables hold millions of rows: a cursor never counts them or skips through them."""

    ordering = "-id"
    page_size = 500
    page_size_query_param = "page_size"
    max_page_size = 5000
