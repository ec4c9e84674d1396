"""The loop thread an engine object runs its queue on (the scheduler's, the HF batcher's).

Started by the first request, it is a daemon; the object is closed at interpreter exit (through a
weak reference, so an engine nobody holds can still be collected), because a thread still inside
torch while the interpreter tears down aborts the process.
"""

from __future__ import annotations

import atexit
import threading
import weakref


def start_loop(owner, name: str) -> None:
    """Start `owner._loop` on a thread unless one runs (call with `owner._lock` held); the first
    start also registers `owner.close` for interpreter exit."""
    if owner._thread is not None:
        return
    owner._thread = threading.Thread(target=owner._loop, name=name, daemon=True)
    owner._thread.start()
    if not owner._at_exit:
        atexit.register(_close, weakref.ref(owner))
        owner._at_exit = True


def _close(ref: weakref.ref) -> None:
    if (owner := ref()) is not None:
        owner.close()
