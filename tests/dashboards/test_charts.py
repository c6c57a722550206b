"""The chart builders write plotly.js JSON by hand; plotly.graph_objects must accept every figure
as it is and write it back unchanged (same properties, same values, nothing coerced)."""

import json
from datetime import date, datetime, timezone
from decimal import Decimal

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
import pytest
from plotly.utils import PlotlyJSONEncoder

from dashboards.charts import figure_payload
from dashboards.charts.gpu import gpu_hours_figure, utilization_heatmap_figure
from dashboards.charts.initiatives import cumulative_savings_figure, pipeline_figure, roi_figure
from dashboards.charts.spend import stacked_spend_figure
from dashboards.charts.tco import tco_treemap_figure, tco_waterfall_figure
from dashboards.charts.unit_costs import unit_cost_figure
from dashboards.templatetags.figures import figure_json
from finops.models.tco import TcoCategory


def as_plotly_writes_it(figure: dict) -> dict:
    """The figure validated by plotly.graph_objects and written back as JSON, without template."""
    validated = json.loads(pio.to_json(go.Figure(figure), validate=True))
    validated["layout"].pop("template", None)
    return validated


def as_the_page_gets_it(figure: dict) -> dict:
    """The figure JSON as `figure_json` writes it into the page, without template."""
    text = figure_json(figure_payload(figure), "figure").split(">", 1)[1].rsplit("<", 1)[0]
    payload = json.loads(text.replace("\\u003C", "<").replace("\\u003E", ">").replace("\\u0026", "&"))
    payload["layout"].pop("template")
    return payload


SPEND_ROWS = [
    {"period": date(2026, 10, 1), "group": "Search", "effective_cost": Decimal("100.1000000001")},
    {"period": date(2026, 10, 1), "group": None, "effective_cost": Decimal("-7.25")},
    {"period": date(2026, 10, 2), "group": "Search", "effective_cost": Decimal("20")},
    {"period": date(2026, 10, 2), "group": "Apps", "effective_cost": Decimal("0.0000000001")},
]


def built_figures() -> dict[str, dict]:
    day = date(2026, 10, 1)
    return {
        "spend per day": stacked_spend_figure(SPEND_ROWS, currency="USD", start=day, end=date(2026, 10, 30)),
        "spend per week": stacked_spend_figure(
            SPEND_ROWS, currency="EUR", start=day, end=date(2026, 10, 30), granularity="week", group_label="Service"),
        "spend per month": stacked_spend_figure(
            SPEND_ROWS[:1], currency="USD", start=day, end=date(2026, 12, 31), granularity="month"),
        "spend, no rows": stacked_spend_figure([], currency="USD", start=day, end=day),
        "unit costs": unit_cost_figure(
            [
                {"day": day, "workload": "Ranker", "cost_per_1k_requests": Decimal("3.0000000000")},
                {"day": date(2026, 10, 2), "workload": "Ranker", "cost_per_1k_requests": None},
                {"day": day, "workload": "Idle", "cost_per_1k_requests": None},
            ],
            metric="cost_per_1k_requests", currency="USD", title="Cost per 1,000 requests",
        ),
        "treemap": tco_treemap_figure(
            [
                {"team": "Search", "workload": "Ranker", "category": TcoCategory.IDLE_WASTE, "amount": Decimal("12.5")},
                {"team": "Search", "workload": None, "category": TcoCategory.DATA_EGRESS, "amount": Decimal("3")},
                {"team": None, "workload": None, "category": TcoCategory.DATA_EGRESS, "amount": Decimal("-1")},
            ],
            currency="USD",
        ),
        "waterfall": tco_waterfall_figure(
            [{"label": "GPU compute", "amount": Decimal("10.5"), "measure": "relative"},
             {"label": "Total", "amount": Decimal("10.5"), "measure": "total"}],
            currency="USD",
        ),
        "cumulative savings": cumulative_savings_figure(
            [{"day": day, "expected": Decimal("1.5"), "realized": Decimal("0.75")}], currency="USD"),
        "roi": roi_figure(
            [{"title": "Spot", "implementation_cost": Decimal("100"), "realized_saving": Decimal("40"),
              "roi_label": "-60%", "payback_label": "5 months"}],
            currency="USD",
        ),
        "pipeline": pipeline_figure(
            [{"status": "proposed", "count": 2, "expected_monthly_saving": Decimal("300")}], currency="USD"),
        "gpu hours": gpu_hours_figure(
            [{"workload__name": "Ranker", "model_name": "H100", "bought": 24.0, "busy": 12.5},
             {"workload__name": None, "model_name": "", "bought": 8.0, "busy": 0.0}]),
        "heatmap": utilization_heatmap_figure({
            "hours": [datetime(2026, 10, 1, hour, tzinfo=timezone.utc) for hour in range(3)],
            "devices": ["node-1 · GPU-a", "node-2 · GPU-b"],
            "values": np.array([[10.0, np.nan, 30.5], [0.0, 100.0, 50.0]]),
        }),
    }


@pytest.mark.parametrize("name", list(built_figures()))
def test_plotly_accepts_each_figure_unchanged(name):
    figure = built_figures()[name]

    assert as_plotly_writes_it(figure) == json.loads(json.dumps(figure, cls=PlotlyJSONEncoder))


@pytest.mark.parametrize("name", list(built_figures()))
def test_the_page_gets_what_plotly_would_write(name):
    figure = built_figures()[name]

    assert as_the_page_gets_it(figure) == as_plotly_writes_it(figure)


def test_every_figure_gets_the_plotly_white_template():
    payload = figure_payload(built_figures()["waterfall"])

    assert payload["layout"]["template"] == json.loads(
        json.dumps(pio.templates["plotly_white"].to_plotly_json(), cls=PlotlyJSONEncoder))
    assert payload["layout"]["template"]["layout"]["plot_bgcolor"] == "white"


def test_the_spend_figure_keeps_a_series_per_group_with_unallocated_last():
    figure = built_figures()["spend per day"]

    assert [(trace["name"], trace["x"], trace["y"]) for trace in figure["data"]] == [
        ("Apps", ["2026-10-02"], [1e-10]),
        ("Search", ["2026-10-01", "2026-10-02"], [100.1000000001, 20.0]),
        ("Unallocated", ["2026-10-01"], [-7.25]),
    ]
    assert "offset" not in figure["data"][0]  # daily bars are not shifted; weekly ones are
    assert built_figures()["spend per week"]["data"][0]["offset"] == 0.1 * 7 * 24 * 3600 * 1000


def test_the_heatmap_grid_is_a_typed_array_with_its_gaps():
    z = built_figures()["heatmap"]["data"][0]["z"]

    assert (z["dtype"], z["shape"]) == ("f8", "2, 3")
    grid = np.frombuffer(__import__("base64").b64decode(z["bdata"]), dtype="<f8").reshape(2, 3)
    assert np.isnan(grid[0, 1]) and grid[0, 2] == 30.5 and grid[1, 1] == 100.0
