"""Smoke test: every public page answers, in both languages, with the shared layout."""

from __future__ import annotations

from tests.factories import grant, make_body


def test_every_public_page_answers_in_both_languages(client, session, now) -> None:  # type: ignore[no-untyped-def]
    body = make_body(session, now, name_en="Smoke Test Centre")
    grant(session, now, body)
    lab = make_body(session, now, kind="testing_lab", name_en="Smoke Test Lab")
    grant(session, now, lab, category="test_reagent")
    session.commit()
    pages = ["/", "/bodies", "/labs", f"/bodies/{body.code}", f"/bodies/{lab.code}"]
    for lang, switch_to in (("zh", 'id="lang-en"'), ("en", 'id="lang-zh"')):
        for path in pages:
            response = client.get(f"{path}?lang={lang}")
            assert response.status_code == 200, path
            html = response.get_data(as_text=True)
            assert switch_to in html and "/static/style.css" in html, path
    assert "Smoke Test Centre" in client.get("/bodies?lang=en").get_data(as_text=True)
    assert "Smoke Test Lab" in client.get("/labs?lang=en").get_data(as_text=True)
    assert "Scope granted" in client.get(f"/bodies/{body.code}?lang=en").get_data(as_text=True)
    assert client.get("/static/style.css").status_code == 200
