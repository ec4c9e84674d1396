"""Tests for app.auth: passwords, login and session tokens."""

import pytest

from app import auth, db
from app.config import Settings

SETTINGS = Settings(
    secret_key=b"test-secret-0123456789abcdef0123456789",
    database_path=":memory:",
    session_ttl=3600,
    pbkdf2_iterations=1_000,  # fast for tests; production uses 600,000
)


@pytest.fixture
def conn():
    connection = db.connect(":memory:")
    yield connection
    connection.close()


def test_salts_differ_per_user(conn):
    alice = auth.register(conn, SETTINGS, "alice", "correct horse battery")
    bob = auth.register(conn, SETTINGS, "bob", "correct horse battery")
    assert alice.salt != bob.salt
    assert alice.password_hash != bob.password_hash


def test_login_with_right_and_wrong_password(conn):
    auth.register(conn, SETTINGS, "alice", "correct horse battery")
    token = auth.login(conn, SETTINGS, "alice", "correct horse battery")
    assert auth.verify_token(token, SETTINGS) == "alice"
    with pytest.raises(auth.AuthError):
        auth.login(conn, SETTINGS, "alice", "wrong horse battery")
    with pytest.raises(auth.AuthError):
        auth.login(conn, SETTINGS, "mallory", "correct horse battery")


def test_register_rejects_bad_input(conn):
    with pytest.raises(auth.AuthError):
        auth.register(conn, SETTINGS, "a:b", "correct horse battery")
    with pytest.raises(auth.AuthError):
        auth.register(conn, SETTINGS, "carol", "short")
    auth.register(conn, SETTINGS, "carol", "correct horse battery")
    with pytest.raises(auth.AuthError, match="taken"):
        auth.register(conn, SETTINGS, "carol", "another long password")


def test_token_expires():
    token = auth.create_token("alice", SETTINGS, now=1_000_000)
    assert auth.verify_token(token, SETTINGS, now=1_000_000 + 3599) == "alice"
    assert auth.verify_token(token, SETTINGS, now=1_000_000 + 3600) is None


def test_tampered_token_is_rejected():
    token = auth.create_token("alice", SETTINGS, now=1_000_000)
    username, expires, signature = token.split(":")
    flipped = signature[:-1] + ("0" if signature[-1] != "0" else "1")
    assert auth.verify_token(f"{username}:{expires}:{flipped}", SETTINGS, now=1_000_000) is None
    assert auth.verify_token(f"mallory:{expires}:{signature}", SETTINGS, now=1_000_000) is None
    assert auth.verify_token("not a token", SETTINGS) is None
