"""Edge cases of the shared list filters (app/filters.py)."""

from __future__ import annotations

from tests.factories import grant, make_body


def test_blank_search_filters_nothing(client, session, now):
    grant(session, now, make_body(session, now, code="CB-BLANK"))
    session.commit()
    response = client.get("/api/v1/bodies?q=%20%20")
    assert response.status_code == 200
    assert [b["code"] for b in response.get_json()["items"]] == ["CB-BLANK"]


def test_kind_narrows_but_never_widens_a_page(client, session, now):
    grant(session, now, make_body(session, now, code="CB-KIND"))
    grant(session, now, make_body(session, now, code="LAB-KIND", kind="testing_lab"))
    session.commit()
    assert client.get("/labs?kind=certification_body&lang=en").status_code == 422
    narrowed = client.get("/bodies?kind=certification_body&lang=en").get_data(as_text=True)
    assert "CB-KIND" in narrowed and "LAB-KIND" not in narrowed
    api = client.get("/api/v1/bodies?kind=testing_lab").get_json()
    assert [b["code"] for b in api["items"]] == ["LAB-KIND"]
