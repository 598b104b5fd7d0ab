"""Showing a matplotlib figure in an ``ipywidgets.Output`` as a PNG, without pyplot's global state."""

from __future__ import annotations

import base64
import io

import ipywidgets as widgets
from matplotlib.figure import Figure


def show_png(output: widgets.Output, fig: Figure, text: str) -> None:
    """Replace ``output``'s content with ``fig`` rendered as PNG (``text`` is the plain-text fallback)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    png = base64.b64encode(buf.getvalue()).decode("ascii")
    output.outputs = ({"output_type": "display_data", "data": {"image/png": png, "text/plain": text}, "metadata": {}},)
