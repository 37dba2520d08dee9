"""GET /api/v1/openapi.json: an OpenAPI 3.1 description of every API route, built from the
same schemas that read the requests."""

from app.api.openapi import OPERATIONS
from app.api.schemas import MAX_DAY, MAX_ID, REASON_CHARS
from tests.api.conftest import assert_error


def document(api) -> dict:
    """The description as a writer fetches it."""
    response = api("writer").get("/api/v1/openapi.json")
    assert response.status_code == 200
    return response.get_json()


def test_every_api_route_is_described(app, api):
    doc = document(api)
    assert doc["openapi"] == "3.1.0"
    described = {(method.upper(), path) for path, item in doc["paths"].items() for method in item}
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("api."):
            assert rule.endpoint in OPERATIONS
            path = rule.rule.replace("<int:", "{").replace("<", "{").replace(">", "}")
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                assert (method, path) in described
    assert ("PATCH", "/api/v1/scripts/{script_id}") in described


def test_description_names_the_token_the_errors_and_the_bounds(api):
    doc = document(api)
    assert doc["security"] == [{"bearerAuth": []}]
    assert doc["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    error = doc["components"]["schemas"]["Error"]
    assert error["required"] == ["error", "message", "fields"]
    get_script = doc["paths"]["/api/v1/scripts/{script_id}"]["get"]
    assert get_script["parameters"][0]["schema"]["maximum"] == MAX_ID
    assert get_script["responses"]["404"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Error"
    }
    listing = doc["paths"]["/api/v1/scripts"]["get"]
    page = next(p for p in listing["parameters"] if p["name"] == "page")
    assert (page["in"], page["required"]) == ("query", False)
    cancel = doc["paths"]["/api/v1/schedules/{schedule_id}/cancellations"]["post"]
    assert cancel["requestBody"]["required"] is True
    cancel_in = doc["components"]["schemas"]["CancelIn"]
    assert cancel_in["additionalProperties"] is False
    assert cancel_in["properties"]["reason"]["maxLength"] == REASON_CHARS
    assert cancel_in["required"] == ["occurs_at"]
    rule = doc["components"]["schemas"]["RecurrenceIn"]
    assert rule["properties"]["count"]["anyOf"][0]["maximum"] == 100_000
    assert str(MAX_DAY.year) in rule["properties"]["end_date"]["pattern"]


def test_description_needs_the_token_like_every_call(client):
    assert_error(client.get("/api/v1/openapi.json"), 401, "unauthorized")


def test_routes_without_query_parameters_refuse_any(api):
    response = api("writer").get("/api/v1/openapi.json?format=yaml")
    assert_error(response, 400, "unknown_fields", "format")


def test_the_token_is_checked_before_the_parameters(client):
    assert_error(client.get("/api/v1/renders/1?x=1"), 401, "unauthorized")
    assert_error(client.get("/api/v1/scripts?trang=2"), 401, "unauthorized")
