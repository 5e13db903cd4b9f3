"""Every app in a real Jupyter kernel: the executed notebook holds each app's figure.

A notebook that displays every app (default settings, as a chapter would) is
generated with nbformat and executed by nbclient. The widget state the
executed notebook saves must hold, for every app, its container (CSS class
``nndl-app-<name>``) and, among its descendants, the PNG frame the page shows
first — the bytes the static HTML book displays.
"""

from __future__ import annotations

import base64

import nbformat
import pytest
from nbclient import NotebookClient

pytestmark = pytest.mark.slow

# app CSS name -> the line a chapter uses
CELLS = {
    "optimizer-race": "widgets.optimizer_race(data)",
    "loss-surface-quadratic": 'widgets.loss_surface(surface="quadratic")',
    "loss-surface-rosenbrock": 'widgets.loss_surface(surface="rosenbrock")',
    "adaptive-rates": "widgets.adaptive_rates(data)",
    "batchnorm": "widgets.batchnorm_vs_baseline(data)",
    "weight-scale": "widgets.weight_scale_sensitivity(data)",
    "dropout": "widgets.dropout_regularization(data)",
}


def _png(model) -> bytes | None:
    """The PNG bytes of an Image model in a saved widget state, if any."""
    for buffer in model.get("buffers", []):
        if buffer.get("path") == ["value"]:
            data = base64.b64decode(buffer["data"])
            if data.startswith(b"\x89PNG"):
                return data
    value = model["state"].get("value")
    if isinstance(value, str):  # some savers inline the bytes
        try:
            data = base64.b64decode(value)
        except ValueError:
            return None
        if data.startswith(b"\x89PNG"):
            return data
    return None


def _ref(value):
    return value[len("IPY_MODEL_") :] if isinstance(value, str) else None


def _shown_image(state, model_id):
    """Follow the children, and a Stack's selected child, to the Image shown first."""
    model = state[model_id]
    name = model["model_name"]
    if name == "ImageModel":
        return model
    children = [_ref(c) for c in model["state"].get("children", [])]
    if name == "StackModel":
        index = model["state"].get("selected_index")
        children = [children[index]] if index is not None else []
    for child in children:
        found = _shown_image(state, child) if child in state else None
        if found is not None:
            return found
    return None


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    nb = nbformat.v4.new_notebook()
    nb.cells.append(
        nbformat.v4.new_code_cell(
            'import widgets\nfrom nndl_lab.data import get_data\ndata = get_data("digits")'
        )
    )
    for code in CELLS.values():
        nb.cells.append(nbformat.v4.new_code_cell(code))
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    client = NotebookClient(
        nb,
        timeout=600,
        kernel_name="python3",
        store_widget_state=True,
        resources={"metadata": {"path": str(tmp_path_factory.mktemp("nb"))}},
    )
    client.execute()
    return nb


def test_every_app_saves_its_figure(executed):
    widget_state = executed.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]
    state = widget_state["state"]
    for cell, name in zip(executed.cells[1:], CELLS, strict=True):
        views = [
            o["data"]["application/vnd.jupyter.widget-view+json"]["model_id"]
            for o in cell.outputs
            if o.get("output_type") == "execute_result"
            and "application/vnd.jupyter.widget-view+json" in o.get("data", {})
        ]
        errors = [o for o in cell.outputs if o.get("output_type") == "error"]
        assert not errors, (name, errors)
        assert len(views) == 1, (name, cell.outputs)
        app = state[views[0]]
        assert f"nndl-app-{name}" in app["state"]["_dom_classes"], name
        image = _shown_image(state, views[0])
        assert image is not None, f"{name}: no Image in the saved widget state"
        png = _png(image)
        assert png is not None and len(png) > 1000, f"{name}: the shown Image holds no PNG"
        classes = image["state"]["_dom_classes"]
        assert any(c.startswith("nndl-frame-") for c in classes), (name, classes)


def test_no_stray_figures_or_tracebacks(executed):
    for cell in executed.cells[1:]:
        kinds = {o.get("output_type") for o in cell.outputs}
        assert kinds <= {"execute_result", "display_data", "stream"}, kinds
        for o in cell.outputs:
            # one widget view per app, no extra matplotlib figure
            assert "image/png" not in o.get("data", {})
