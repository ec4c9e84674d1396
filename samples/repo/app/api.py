"""Request handlers: a plain dict in, a (status, body) pair out.

The service sits behind a tiny WSGI adapter in production; keeping the handlers free of any web
framework keeps them easy to test.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field

from app import auth, db
from app.config import Settings

MAX_NOTE_CHARS = 10_000


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str] = field(default_factory=dict)
    body: dict = field(default_factory=dict)


Response = tuple[int, dict]


def _current_user(request: Request, conn: sqlite3.Connection, settings: Settings) -> db.User | None:
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        return None
    username = auth.verify_token(header.removeprefix("Bearer "), settings)
    return db.get_user(conn, username) if username else None


def register(request: Request, conn: sqlite3.Connection, settings: Settings) -> Response:
    try:
        user = auth.register(conn, settings, request.body.get("username", ""), request.body.get("password", ""))
    except auth.AuthError as e:
        return 400, {"error": str(e)}
    return 201, {"id": user.id, "username": user.username}


def login(request: Request, conn: sqlite3.Connection, settings: Settings) -> Response:
    try:
        token = auth.login(conn, settings, request.body.get("username", ""), request.body.get("password", ""))
    except auth.AuthError as e:
        return 401, {"error": str(e)}
    return 200, {"token": token, "expires_in": settings.session_ttl}


def list_notes(request: Request, conn: sqlite3.Connection, settings: Settings) -> Response:
    user = _current_user(request, conn, settings)
    if user is None:
        return 401, {"error": "log in first"}
    return 200, {"notes": db.list_notes(conn, user.id)}


def add_note(request: Request, conn: sqlite3.Connection, settings: Settings) -> Response:
    user = _current_user(request, conn, settings)
    if user is None:
        return 401, {"error": "log in first"}
    body = str(request.body.get("body", "")).strip()
    if not body or len(body) > MAX_NOTE_CHARS:
        return 400, {"error": f"a note is 1-{MAX_NOTE_CHARS} characters"}
    return 201, {"id": db.add_note(conn, user.id, body)}


ROUTES = {
    ("POST", "/register"): register,
    ("POST", "/login"): login,
    ("GET", "/notes"): list_notes,
    ("POST", "/notes"): add_note,
}


def handle(request: Request, conn: sqlite3.Connection, settings: Settings) -> Response:
    handler = ROUTES.get((request.method, request.path))
    if handler is None:
        return 404, {"error": f"no route for {request.method} {request.path}"}
    return handler(request, conn, settings)
