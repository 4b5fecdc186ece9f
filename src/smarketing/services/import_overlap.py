"""Write one chunk on a second thread while the next one is prepared.

An import of people on PostgreSQL alternates between two kinds of work: this process looks up
and merges chunk N+1, and the database server writes chunk N (COPY, index entries,
foreign-key checks, commit). Done one after the other, each waits for the other; on a machine
with a core to spare they can run at once. psycopg releases the GIL while it waits for the
server, so a thread is enough.

Thread safety: `OneBehind` runs at most one `write` at a time, on its own thread, and the
caller hands over each item and everything `write` touches (its own database connection, the
errors CSV, the run's checkpoint) until `wait` returns it: `Future.result` orders the writer's
changes before the caller's next reads. The caller must prepare item N+1 from state the writer
does not change (here: a separate read connection, and the previous chunk's changes in memory,
see `store.crm.pending`). Leaving the `with` block waits for the item in flight (its error, if
any, is dropped: the caller is already failing), so nothing writes after the caller closes
the run.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from types import TracebackType
from typing import Generic, Self, TypeVar

T = TypeVar("T")


class OneBehind(Generic[T]):
    """Runs `write(item)` on one worker thread, one item at a time, in the order submitted."""

    def __init__(self, write: Callable[[T], None]) -> None:
        self._write = write
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="import-writer")
        self._in_flight: tuple[Future[None], T] | None = None

    def submit(self, item: T) -> None:
        """Start writing `item`; the one before must have been `wait`ed for."""
        if self._in_flight is not None:
            raise RuntimeError("wait for the item in flight before submitting another")
        self._in_flight = (self._executor.submit(self._write, item), item)

    def wait(self) -> T | None:
        """Block until the item in flight is written and return it (None if there was none);
        raises what its `write` raised."""
        if self._in_flight is None:
            return None
        future, item = self._in_flight
        self._in_flight = None
        future.result()
        return item

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._executor.shutdown(wait=True)
