import json

import plotly.graph_objects as go
import plotly.io as pio


def figure_payload(figure: go.Figure) -> dict:
    """Plain JSON data for `json_script`; plotly's encoder handles numpy and dates."""
    return json.loads(pio.to_json(figure, validate=False))
