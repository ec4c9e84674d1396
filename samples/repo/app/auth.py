"""Passwords and sessions.

Passwords are stored as PBKDF2-HMAC-SHA256 with a random 16-byte salt per user. A session token is
`username:expires_at:signature`, signed with HMAC-SHA256 under the server secret, so the server
keeps no session table: a token is valid while its signature matches and it has not expired.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import sqlite3
import time

from app import db
from app.config import Settings

SALT_BYTES = 16
USERNAME = re.compile(r"^[a-z0-9_.-]{3,32}$")  # no ":", which separates token fields
MIN_PASSWORD_LENGTH = 10


class AuthError(Exception):
    """Registration or login refused; the message is safe to show to the user."""


def hash_password(password: str, salt: bytes, iterations: int) -> bytes:
    return hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), salt, iterations)


def verify_password(password: str, user: db.User, iterations: int) -> bool:
    candidate = hash_password(password, user.salt, iterations)
    return hmac.compare_digest(candidate, user.password_hash)


def register(conn: sqlite3.Connection, settings: Settings, username: str, password: str) -> db.User:
    """Create a user with a fresh salt; raises AuthError for a bad name or a weak password."""
    if not USERNAME.match(username):
        raise AuthError("usernames are 3-32 characters: lowercase letters, digits, _ . -")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AuthError(f"passwords need at least {MIN_PASSWORD_LENGTH} characters")
    salt = os.urandom(SALT_BYTES)
    try:
        return db.add_user(conn, username, salt, hash_password(password, salt, settings.pbkdf2_iterations))
    except db.UserExists:
        raise AuthError("that username is taken") from None


def login(conn: sqlite3.Connection, settings: Settings, username: str, password: str) -> str:
    """A new session token for valid credentials; raises AuthError otherwise."""
    user = db.get_user(conn, username)
    if user is None:
        # Hash anyway so that unknown usernames take as long as wrong passwords.
        hash_password(password, os.urandom(SALT_BYTES), settings.pbkdf2_iterations)
        raise AuthError("wrong username or password")
    if not verify_password(password, user, settings.pbkdf2_iterations):
        raise AuthError("wrong username or password")
    return create_token(user.username, settings)


def _sign(payload: str, secret: bytes) -> str:
    return hmac.new(secret, payload.encode("utf-8"), hashlib.sha256).hexdigest()


def create_token(username: str, settings: Settings, now: float | None = None) -> str:
    issued = time.time() if now is None else now
    expires_at = int(issued) + settings.session_ttl
    payload = f"{username}:{expires_at}"
    return f"{payload}:{_sign(payload, settings.secret_key)}"


def verify_token(token: str, settings: Settings, now: float | None = None) -> str | None:
    """The username a token was issued to, or None if it is malformed, forged or expired."""
    try:
        username, expires, signature = token.rsplit(":", 2)
        expires_at = int(expires)
    except ValueError:
        return None
    expected = _sign(f"{username}:{expires_at}", settings.secret_key)
    if not hmac.compare_digest(signature, expected):
        return None
    current = time.time() if now is None else now
    if current >= expires_at:
        return None
    return username
