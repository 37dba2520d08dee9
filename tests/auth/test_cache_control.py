"""No page or API answer may be kept by a cache: they show private data, new tokens included."""

from app.auth.service import create_token


def _no_store(response) -> bool:
    """Whether the answer forbids any cache to keep a copy."""
    return response.headers.get("Cache-Control") == "no-store"


def test_signed_in_pages_are_not_stored(login_as, users):
    client = login_as("admin")
    for path in ("/scripts", "/admin/users", f"/admin/users/{users['writer'].id}", "/audit/"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert _no_store(response), path


def test_the_page_showing_a_new_token_is_not_stored(login_as, users):
    client = login_as("writer")
    created = client.post("/account/tokens", data={"name": "Máy phòng phát"})
    assert 'id="new-token"' in created.get_data(as_text=True)
    assert _no_store(created)
    assert _no_store(client.get("/account/tokens"))


def test_api_answers_are_not_stored(client, users):
    _, plaintext = create_token(users["writer"], "thử")
    ok = client.get("/api/v1/scripts", headers={"Authorization": f"Bearer {plaintext}"})
    refused = client.get("/api/v1/scripts")
    assert (ok.status_code, refused.status_code) == (200, 401)
    assert _no_store(ok) and _no_store(refused)


def test_login_page_and_redirects_are_not_stored_but_static_files_may_be(client):
    assert _no_store(client.get("/login"))
    assert _no_store(client.get("/scripts"))
    with client.get("/static/css/loa.css") as static:
        assert static.status_code == 200
        assert "no-store" not in static.headers.get("Cache-Control", "")
