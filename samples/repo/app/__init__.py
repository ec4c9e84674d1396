"""notekeeper: a small note-taking service (the minimax sample repository)."""

__version__ = "0.3.1"
