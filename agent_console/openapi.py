"""The OpenAPI 3.1 description of the HTTP API, kept beside the routes it describes."""

from __future__ import annotations

from typing import Any

from agent_console.admin_pages import OPENAPI_PATHS as ADMIN_PATHS
from agent_console.knowledge_pages import OPENAPI_PATHS as KNOWLEDGE_PATHS
from tickets.lifecycle import Action
from tickets.model import Channel, RatingLevel, State

_ERROR = {"$ref": "#/components/schemas/Error"}
_TICKET = {"$ref": "#/components/schemas/Ticket"}


def _resp(desc: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"description": desc}
    if schema:
        out["content"] = {"application/json": {"schema": schema}}
    return out


def _errors(*codes: int) -> dict[str, Any]:
    text = {
        400: "bad field value or malformed JSON (the error names the field)",
        401: "not signed in / bad API key",
        403: "role may not do this, or CSRF token missing",
        404: "unknown ticket number",
        409: "transition not possible from the ticket's state",
        413: "body over the size limit",
    }
    return {str(c): _resp(text[c], _ERROR) for c in codes}


def _body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


NUMBER = {
    "name": "number",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "pattern": r"^\d{8}-\d{6}$"},
}
CSRF = {"name": "X-CSRF-Token", "in": "header", "required": True, "schema": {"type": "string"}}


def spec() -> dict[str, Any]:
    """The whole document."""
    contact_body = {
        "type": "object",
        "required": ["channel", "external_id", "text"],
        "properties": {
            "channel": {"enum": [c.value for c in Channel]},
            "external_id": {"type": "string", "maxLength": 200},
            "citizen": {
                "type": "object",
                "properties": {
                    k: {"type": "string"}
                    for k in ("name", "phone", "wechat_openid", "telegram_id", "email")
                },
            },
            "text": {"type": "string", "maxLength": 20000},
            "received_at": {"type": "string", "format": "date-time"},
            "category": {"type": "string"},
            "district": {"type": "string"},
            "subject": {"type": "string"},
            "consent_publish": {"type": "boolean"},
            "confidential": {"type": "boolean"},
        },
    }
    paths: dict[str, Any] = {
        "/healthz": {"get": {"summary": "Liveness", "responses": {"200": _resp("alive")}}},
        "/readyz": {
            "get": {
                "summary": "Readiness (database reachable)",
                "responses": {"200": _resp("ready"), "503": _resp("database unreachable")},
            }
        },
        "/api/v1/session": {
            "post": {
                "summary": "Sign in (sets the session cookie, returns the CSRF token)",
                "requestBody": _body(
                    {
                        "type": "object",
                        "required": ["username", "password"],
                        "properties": {
                            "username": {"type": "string"},
                            "password": {"type": "string"},
                        },
                    }
                ),
                "responses": {"200": _resp("signed in"), **_errors(400, 401)},
            },
            "delete": {
                "summary": "Sign out",
                "parameters": [CSRF],
                "responses": {"200": _resp("signed out"), **_errors(401, 403)},
            },
        },
        "/api/v1/me": {
            "get": {
                "summary": "The signed-in user",
                "responses": {"200": _resp("user"), **_errors(401)},
            }
        },
        "/api/v1/contacts": {
            "post": {
                "summary": "Generic inbound channel for other systems (API key)",
                "security": [{"apiKey": []}],
                "requestBody": _body(contact_body),
                "responses": {
                    "201": _resp("committed: a new contact"),
                    "200": _resp(
                        "the same (channel, external_id) was accepted before; same ticket number"
                    ),
                    **_errors(400, 401, 413),
                },
            }
        },
        "/api/v1/tickets": {
            "get": {
                "summary": "List tickets the caller may see",
                "parameters": [
                    {"name": "state", "in": "query", "schema": {"enum": [s.value for s in State]}},
                    {"name": "channel", "in": "query", "schema": {"type": "string"}},
                    {"name": "category", "in": "query", "schema": {"type": "string"}},
                    {"name": "district", "in": "query", "schema": {"type": "string"}},
                    {"name": "q", "in": "query", "schema": {"type": "string"}},
                    {"name": "overdue", "in": "query", "schema": {"type": "boolean"}},
                    {"name": "limit", "in": "query", "schema": {"type": "integer", "maximum": 500}},
                    {"name": "offset", "in": "query", "schema": {"type": "integer"}},
                ],
                "responses": {"200": _resp("page of tickets"), **_errors(400, 401)},
            },
            "post": {
                "summary": "An agent accepts a request (phone, counter)",
                "parameters": [CSRF],
                "requestBody": _body({**contact_body, "required": ["text"]}),
                "responses": {"201": _resp("ticket", _TICKET), **_errors(400, 401, 403)},
            },
        },
        "/api/v1/tickets/{number}": {
            "get": {
                "summary": "One ticket with timeline",
                "parameters": [NUMBER],
                "responses": {"200": _resp("ticket", _TICKET), **_errors(401, 404)},
            },
            "patch": {
                "summary": "Edit the ticket form (category, district, urgency, text, flags)",
                "parameters": [NUMBER, CSRF],
                "requestBody": _body({"type": "object"}),
                "responses": {"200": _resp("ticket", _TICKET), **_errors(400, 401, 403, 404, 409)},
            },
        },
        "/api/v1/tickets/{number}/actions/{action}": {
            "post": {
                "summary": "Apply a lifecycle action",
                "parameters": [
                    NUMBER,
                    CSRF,
                    {
                        "name": "action",
                        "in": "path",
                        "required": True,
                        "schema": {"enum": [a.value for a in Action]},
                    },
                ],
                "requestBody": _body(
                    {
                        "type": "object",
                        "properties": {
                            "reason": {"type": "string"},
                            "department": {"type": "string"},
                            "co_departments": {"type": "array", "items": {"type": "string"}},
                            "reason_code": {"type": "string"},
                            "days": {"type": "integer"},
                            "result": {"type": "string"},
                            "rating": {"enum": [r.value for r in RatingLevel]},
                            "into": {"type": "string"},
                        },
                    }
                ),
                "responses": {
                    "200": _resp("ticket after the action", _TICKET),
                    **_errors(400, 401, 403, 404, 409),
                },
            }
        },
        "/api/v1/tickets/{number}/split": {
            "post": {
                "summary": "Split contacts off into a new ticket",
                "parameters": [NUMBER, CSRF],
                "requestBody": _body(
                    {
                        "type": "object",
                        "properties": {
                            "contact_ids": {"type": "array", "items": {"type": "integer"}},
                            "reason": {"type": "string"},
                        },
                    }
                ),
                "responses": {
                    "201": _resp("the new ticket", _TICKET),
                    **_errors(400, 401, 403, 404, 409),
                },
            }
        },
        "/api/v1/tickets/{number}/unmask": {
            "post": {
                "summary": "Show the citizen's contact data (audited, reason required)",
                "parameters": [NUMBER, CSRF],
                "requestBody": _body(
                    {
                        "type": "object",
                        "required": ["reason"],
                        "properties": {"reason": {"type": "string"}},
                    }
                ),
                "responses": {"200": _resp("contact data"), **_errors(400, 401, 403, 404)},
            }
        },
        "/api/v1/departments": {
            "get": {
                "summary": "Department tree",
                "responses": {"200": _resp("departments"), **_errors(401)},
            }
        },
        "/api/v1/categories": {
            "get": {
                "summary": "Category tree",
                "responses": {"200": _resp("categories"), **_errors(401)},
            }
        },
        "/api/v1/verify": {
            "get": {
                "summary": "Public check of a dispatch sheet's anti-forgery code",
                "parameters": [
                    {"name": "number", "in": "query", "schema": {"type": "string"}},
                    {"name": "code", "in": "query", "schema": {"type": "string"}},
                ],
                "responses": {"200": _resp("valid or not")},
            }
        },
        "/api/v1/calendar/{day}": {
            "put": {
                "summary": "Enter a day of the holiday notice; recomputes provisional deadlines",
                "parameters": [
                    {
                        "name": "day",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "string", "format": "date"},
                    },
                    CSRF,
                ],
                "requestBody": _body(
                    {
                        "type": "object",
                        "required": ["is_workday"],
                        "properties": {
                            "is_workday": {"type": "boolean"},
                            "name": {"type": "string"},
                        },
                    }
                ),
                "responses": {"200": _resp("recomputed ticket numbers"), **_errors(400, 401, 403)},
            }
        },
        "/api/v1/audit": {
            "get": {
                "summary": "Audit log of personal-data views",
                "responses": {"200": _resp("entries"), **_errors(401, 403)},
            }
        },
    }
    paths.update(ADMIN_PATHS)
    paths.update(KNOWLEDGE_PATHS)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Hotline 12345 API",
            "version": "1",
            "description": "Work orders of the 12345 government service hotline.",
        },
        "paths": paths,
        "components": {
            "securitySchemes": {
                "apiKey": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "made with `hotline apikey add NAME`",
                },
                "session": {"type": "apiKey", "in": "cookie", "name": "hl_session"},
            },
            "schemas": {
                "Error": {
                    "type": "object",
                    "properties": {
                        "error": {
                            "type": "object",
                            "required": ["code", "message"],
                            "properties": {
                                "code": {"type": "string"},
                                "message": {"type": "string"},
                                "message_en": {"type": "string"},
                                "field": {"type": "string"},
                            },
                        }
                    },
                },
                "Ticket": {
                    "type": "object",
                    "properties": {
                        "number": {"type": "string"},
                        "state": {"enum": [s.value for s in State]},
                        "timeline": {"type": "array"},
                        "dispatches": {"type": "array"},
                        "actions": {"type": "array", "items": {"type": "string"}},
                    },
                },
            },
        },
        "security": [{"session": []}],
    }
