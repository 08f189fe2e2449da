from tests.factories import grant, make_body


def test_list_and_body_page(client, session, now):
    body = make_body(session, now, name_en="Smoke Test Centre")
    grant(session, now, body)
    session.commit()
    response = client.get("/bodies?lang=en")
    assert response.status_code == 200
    assert "Smoke Test Centre" in response.get_data(as_text=True)
    page = client.get(f"/bodies/{body.code}?lang=en")
    assert page.status_code == 200
    assert "Grant" in page.get_data(as_text=True) or "body:authorization:grant" in page.get_data(as_text=True)
