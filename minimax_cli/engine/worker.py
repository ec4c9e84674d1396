"""The loop thread an engine object runs its queue on (the scheduler's, the HF batcher's, the
OpenVINO engine's), and `RequestQueue`, the queue half the last two share.

Started by the first request, it is a daemon; the object is closed at interpreter exit (through a
weak reference, so an engine nobody holds can still be collected), because a thread still inside
torch while the interpreter tears down aborts the process.
"""

from __future__ import annotations

import atexit
import threading
import weakref
from collections import deque


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


class RequestQueue:
    """Requests waiting for a loop thread: `_enqueue` from any thread (starting the loop),
    `close` to cancel what waits and end the loop. Subclasses write `_loop`."""

    def __init__(self, thread_name: str):
        self._thread_name = thread_name
        self._waiting: deque = deque()
        self._lock = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._at_exit = False

    def _enqueue(self, request):
        """Queue `request` (it carries its `future`) and wake the loop; refused once closed."""
        with self._lock:
            if self._closed:
                raise RuntimeError(f"{self._thread_name} is closed")
            self._waiting.append(request)
            start_loop(self, self._thread_name)
            self._lock.notify()
        return request.future

    def close(self) -> None:
        """Cancel what waits, let the loop finish what runs and end; later submits are refused."""
        with self._lock:
            self._closed = True
            while self._waiting:
                self._waiting.popleft().future.cancel()
            self._lock.notify()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join()
