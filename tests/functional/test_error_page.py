"""The HTML error page renders list-shaped batch errors (not only per-field mappings)."""

from __future__ import annotations

from registry.errors import ImportRejected


def test_list_errors_render_on_the_html_page(app):
    @app.get("/_boom")
    def boom():
        errors = [{"index": 3, "field": "number", "problem": "duplicate"}, "x"]
        raise ImportRejected("2 problem(s)", errors=errors)

    boom.access = "public"
    response = app.test_client().get("/_boom?lang=en", headers={"Accept": "text/html"})
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "duplicate" in html and "<b>index</b>: 3" in html
