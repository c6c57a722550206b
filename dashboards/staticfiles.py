from pathlib import Path

import plotly
from django.contrib.staticfiles.finders import BaseFinder
from django.core.files.storage import FileSystemStorage

PLOTLY_JS = "plotly.min.js"
PREFIX = "vendor/plotly"


class PlotlyJsFinder(BaseFinder):
    """Serves plotly.min.js straight from the installed plotly package as
    static/vendor/plotly/plotly.min.js, so no copy of it is kept in the repository."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.storage = FileSystemStorage(location=Path(plotly.__file__).parent / "package_data")
        self.storage.prefix = PREFIX

    def check(self, **kwargs):
        return []

    def find(self, path, find_all=False, **kwargs):
        if path != f"{PREFIX}/{PLOTLY_JS}":
            return [] if find_all or kwargs.get("all") else None
        found = self.storage.path(PLOTLY_JS)
        return [found] if find_all or kwargs.get("all") else found

    def list(self, ignore_patterns):
        yield PLOTLY_JS, self.storage
