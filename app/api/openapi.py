"""The OpenAPI 3.1 description of /api/v1, built from the request schemas each route declares."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from flask import Flask, current_app, request
from pydantic.json_schema import models_json_schema

from app.api import bp
from app.api.schemas import CODE_CHARS, MAX_ID, NoBody, Schema, read_query

REF = "#/components/schemas/{model}"
JSON = "application/json"
ERROR_STATUSES = {
    "400": "Trường không được hỗ trợ (`unknown_fields`) hoặc yêu cầu hỏng.",
    "401": "Thiếu mã truy cập hoặc mã không hợp lệ.",
    "403": "Vai trò không được làm việc này, hoặc máy trạm đã bị thu hồi.",
    "404": "Không có, hoặc nằm ngoài phạm vi đơn vị.",
    "409": "Xung đột: đã đổi, đã duyệt, đã hủy… hoặc cần xác nhận cảnh báo.",
    "413": "Nội dung gửi lên quá lớn.",
    "416": "Khoảng byte (Range) không có trong tệp.",
    "422": "Dữ liệu không hợp lệ; xem `fields`.",
}
SUCCESS_STATUSES = {
    "206": "Một phần của tệp (Range).",
    "204": "Không có nội dung: bản máy khách đang giữ vẫn là bản mới nhất.",
    "304": "Không đổi từ bản máy khách đang giữ (If-None-Match).",
}
ERROR_SCHEMA = {
    "type": "object",
    "required": ["error", "message", "fields"],
    "properties": {
        "error": {"type": "string"},
        "message": {"type": "string"},
        "fields": {"type": "object", "additionalProperties": {"type": "string"}},
        "problems": {"type": "array", "items": {"type": "object"}},
    },
}
PAGE_SCHEMA = {
    "type": "object",
    "required": ["items", "page", "per_page", "total"],
    "properties": {
        "items": {"type": "array", "items": {"type": "object"}},
        "page": {"type": "integer", "minimum": 1},
        "per_page": {"type": "integer", "minimum": 1},
        "total": {"type": "integer", "minimum": 0},
    },
}
AUDIO = {"schema": {"type": "string", "format": "binary"}}


@dataclass
class Operation:
    """What a route reads and answers, for the description."""

    query: type[Schema] | None = None
    body: type[Schema] | None = None
    body_optional: bool = False
    status: int = 200
    response: dict = field(default_factory=lambda: {JSON: {"schema": {"type": "object"}}})
    extra_statuses: tuple[int, ...] = ()
    # None: the document's default (a user's bearer token); [] for a call without one.
    security: list[dict] | None = None
    # Header parameters, e.g. If-None-Match.
    headers: tuple[dict, ...] = ()
    # A multipart/form-data schema the body may take instead of JSON (a file upload).
    multipart: dict | None = None


OPERATIONS: dict[str, Operation] = {}


def operation(*, blueprint: str | None = None, **kwargs) -> Callable:
    """Declare a view's query and body schemas and its success answer; views of another
    blueprint than /api/v1's (the agent API) name it."""

    def register(view: Callable) -> Callable:
        OPERATIONS[f"{blueprint or bp.name}.{view.__name__}"] = Operation(**kwargs)
        return view

    return register


def refuse_unknown_query():
    """A route without query parameters refuses any (registered after the token check)."""
    op = OPERATIONS.get(request.endpoint or "")
    if op is not None and op.query is None and request.args:
        read_query(NoBody, "Tham số không được hỗ trợ.")


bp.before_request(refuse_unknown_query)


def page_response() -> dict:
    """A list endpoint's answer: {items, page, per_page, total}."""
    return {JSON: {"schema": PAGE_SCHEMA}}


_ARGUMENT = re.compile(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>")


def _path_parameters(rule: str) -> tuple[str, list[dict]]:
    """The OpenAPI path of a URL rule and its path parameters."""
    parameters = []
    for converter, name in _ARGUMENT.findall(rule):
        if converter == "int":
            schema = {"type": "integer", "minimum": 1, "maximum": MAX_ID}
        elif converter == "sha256":
            schema = {"type": "string", "pattern": "^[0-9a-f]{64}$"}
        else:
            schema = {"type": "string", "minLength": 1, "maxLength": CODE_CHARS}
        parameters.append({"name": name, "in": "path", "required": True, "schema": schema})
    return _ARGUMENT.sub(lambda m: "{" + m.group(2) + "}", rule), parameters


def _query_parameters(schema: dict, components: dict) -> list[dict]:
    """One query parameter per property of a query schema."""
    resolved = components[schema["$ref"].rsplit("/", 1)[1]]
    required = set(resolved.get("required", ()))
    return [
        {
            "name": name,
            "in": "query",
            "required": name in required,
            "schema": {k: v for k, v in prop.items() if k != "title"},
        }
        for name, prop in resolved["properties"].items()
    ]


def _operation_name(endpoint: str) -> str:
    """The view's name; views of another blueprint keep its name in front (agent_api_plan)."""
    blueprint, _, name = endpoint.rpartition(".")
    return name if blueprint == bp.name else f"{blueprint}_{name}"


def build_openapi(app: Flask) -> dict:
    """The OpenAPI 3.1 document of every /api/v1 route."""
    models = {m for op in OPERATIONS.values() for m in (op.query, op.body) if m is not None}
    refs, defs = models_json_schema(
        [(m, "validation") for m in sorted(models, key=lambda m: m.__name__)],
        ref_template=REF,
    )
    components = defs.get("$defs", {})
    paths: dict[str, dict] = {}
    described = {bp.name} | {name.rsplit(".", 1)[0] for name in OPERATIONS}
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if rule.endpoint.rsplit(".", 1)[0] not in described:
            continue
        op = OPERATIONS.get(rule.endpoint)
        if op is None:
            raise LookupError(f"{rule.endpoint} has no @operation(...) declaration")
        view = app.view_functions[rule.endpoint]
        path, parameters = _path_parameters(rule.rule)
        if op.query is not None:
            parameters += _query_parameters(refs[(op.query, "validation")], components)
        parameters += [{"in": "header", **header} for header in op.headers]
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            ok = {"description": "OK", "content": op.response}
            responses = {str(s): ok for s in (op.status, *op.extra_statuses) if s < 400}
            for bare in ("204", "304"):
                if bare in responses:
                    responses[bare] = {"description": SUCCESS_STATUSES[bare]}
            if "206" in responses:
                responses["206"] = {"description": SUCCESS_STATUSES["206"], "content": op.response}
            statuses = {"400", "401", "404", "422"}
            statuses |= {str(s) for s in op.extra_statuses if s >= 400}
            if method != "GET":
                statuses |= {"403", "409", "413"}
            for status in sorted(statuses):
                responses[status] = {
                    "description": ERROR_STATUSES[status],
                    "content": {JSON: {"schema": {"$ref": REF.format(model="Error")}}},
                }
            entry = {
                "operationId": f"{_operation_name(rule.endpoint)}_{method.lower()}",
                "summary": (view.__doc__ or "").strip().splitlines()[0],
                "parameters": parameters,
                "responses": responses,
            }
            if op.security is not None:
                entry["security"] = op.security
            if op.body is None and op.multipart is not None:
                entry["requestBody"] = {
                    "required": True,
                    "content": {"multipart/form-data": {"schema": op.multipart}},
                }
            if op.body is not None:
                entry["requestBody"] = {
                    "required": not op.body_optional,
                    "content": {JSON: {"schema": refs[(op.body, "validation")]}},
                }
                if op.multipart is not None:
                    entry["requestBody"]["content"]["multipart/form-data"] = {
                        "schema": op.multipart
                    }
            paths.setdefault(path, {})[method.lower()] = entry
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Loa API",
            "version": "1",
            "description": "Lịch phát thanh và kịch bản của đài truyền thanh cơ sở. "
            "Xem docs/api.md.",
        },
        "servers": [{"url": "/"}],
        "security": [{"bearerAuth": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "loa_…"},
                "agentAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "loa_agent_…",
                    "description": "Mã của một máy trạm, nhận khi đăng ký (POST /agent/enrol).",
                },
            },
            "schemas": {**components, "Error": ERROR_SCHEMA},
        },
    }


@bp.get("/openapi.json")
@operation()
def openapi_document():
    """This API's OpenAPI 3.1 description."""
    return build_openapi(current_app)
