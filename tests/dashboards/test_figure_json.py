from django.utils.html import json_script

from dashboards.templatetags.figures import figure_json


def test_figure_json_writes_exactly_what_json_script_writes():
    payload = {"data": [{"name": "</script><b>&amp; 'x' \"y\" · ü", "z": [[1.5, None], [0.25, 2]]}], "layout": {}}

    assert figure_json(payload, "spend-usd-figure") == json_script(payload, "spend-usd-figure")
