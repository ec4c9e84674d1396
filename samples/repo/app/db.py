"""SQLite storage for users and notes."""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass

SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    id INTEGER PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    salt BLOB NOT NULL,
    password_hash BLOB NOT NULL,
    created_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS notes (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    body TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
"""


@dataclass(frozen=True)
class User:
    id: int
    username: str
    salt: bytes
    password_hash: bytes


class UserExists(Exception):
    """The username is already taken."""


def connect(path: str) -> sqlite3.Connection:
    """Open the database (":memory:" for tests) and make sure the tables exist."""
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA foreign_keys = ON")
    conn.executescript(SCHEMA)
    return conn


def add_user(conn: sqlite3.Connection, username: str, salt: bytes, password_hash: bytes) -> User:
    try:
        with conn:
            cur = conn.execute(
                "INSERT INTO users (username, salt, password_hash, created_at) VALUES (?, ?, ?, ?)",
                (username, salt, password_hash, int(time.time())),
            )
    except sqlite3.IntegrityError:
        raise UserExists(username) from None
    return User(cur.lastrowid, username, salt, password_hash)


def get_user(conn: sqlite3.Connection, username: str) -> User | None:
    row = conn.execute(
        "SELECT id, username, salt, password_hash FROM users WHERE username = ?", (username,)
    ).fetchone()
    return User(*row) if row else None


def add_note(conn: sqlite3.Connection, user_id: int, body: str) -> int:
    with conn:
        cur = conn.execute(
            "INSERT INTO notes (user_id, body, created_at) VALUES (?, ?, ?)",
            (user_id, body, int(time.time())),
        )
    return cur.lastrowid


def list_notes(conn: sqlite3.Connection, user_id: int, limit: int = 50) -> list[dict]:
    rows = conn.execute(
        "SELECT id, body, created_at FROM notes WHERE user_id = ? ORDER BY id DESC LIMIT ?",
        (user_id, limit),
    ).fetchall()
    return [{"id": id_, "body": body, "created_at": created} for id_, body, created in rows]
