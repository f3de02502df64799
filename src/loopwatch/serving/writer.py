"""Group commit: the rows of many concurrent requests share one durable transaction.

A request may not answer before its rows are committed. Committing once per
request costs a disk sync each (~0.4-1.5 ms here with SQLite
``synchronous=FULL``, more on slow disks) and serialises requests on the write
lock. Instead, each handler queues its prepared rows and awaits; one drain task
writes everything queued in one transaction, commits, and only then wakes the
waiting requests. Rows that arrive while a commit runs form the next group, so
under load the cost of a sync is shared by every request that came meanwhile;
alone, a request waits for exactly one commit, as before.

SQLite groups are written inline on the event loop, which pauses once per
group (the SQL runs in C, the sync with the GIL released). A writer thread was
measured too and was no faster (260-280 against 280-300 requests/s of 100
records on 2 cores): the sqlite3 module drops the GIL around each statement and
the thread must win it back from the busy loop every time, up to the 5 ms switch
interval; with one statement per row it was slower still. A database across a
network (PostgreSQL) is written from a worker thread, where waiting on the
server dominates and the loop must stay free.

If a group fails (say, one request's rows violate a constraint), each request
of the group is retried alone, so one bad request cannot fail its neighbours.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any

log = logging.getLogger(__name__)


class WriterClosed(RuntimeError):
    """The writer is shut down: no new rows are accepted."""


class GroupCommitWriter:
    def __init__(self, store, inline: bool | None = None):
        self.store = store
        self.inline = getattr(store, "is_sqlite", False) if inline is None else inline
        self._pending: list[tuple[Any, asyncio.Future]] = []
        self._task: asyncio.Task | None = None
        self._open = False
        self.groups = 0  # commits made; tests and the benchmark read it

    def start(self) -> GroupCommitWriter:
        self._open = True
        return self

    async def write(self, rows: Sequence[dict[str, Any]]) -> None:
        """Return once ``rows`` are committed; raise what the store raised if they are not."""
        if not self._open:
            raise WriterClosed("the prediction log writer is not running")
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._pending.append((self.store.prepare(rows), future))
        if self._task is None or self._task.done():
            self._task = loop.create_task(self._drain())
        await future

    async def aclose(self) -> None:
        """Refuse new rows; wait until everything queued is committed."""
        self._open = False
        if self._task is not None:
            await self._task

    async def _drain(self) -> None:
        await asyncio.sleep(0)  # one loop turn: handlers that are ready add their rows first
        loop = asyncio.get_running_loop()
        while self._pending:
            group, self._pending = self._pending, []
            prepared = [p for p, _ in group]
            if self.inline:
                outcomes = self._commit(prepared)
            else:
                outcomes = await loop.run_in_executor(None, self._commit, prepared)
            for (_, future), outcome in zip(group, outcomes, strict=True):
                if future.cancelled():  # the client left; its rows are committed all the same
                    continue
                if outcome is None:
                    future.set_result(None)
                else:
                    future.set_exception(outcome)

    def _commit(self, prepared: list) -> list[BaseException | None]:
        try:
            self.store.write_prepared(prepared)
            self.groups += 1
            return [None] * len(prepared)
        except Exception as exc:  # retried one by one below
            if len(prepared) == 1:
                return [exc]
            log.warning("group commit of %d requests failed (%s); retrying each alone",
                        len(prepared), type(exc).__name__)
            return [self._commit_one(p) for p in prepared]

    def _commit_one(self, prepared) -> BaseException | None:
        try:
            self.store.write_prepared([prepared])
            self.groups += 1
            return None
        except Exception as exc:  # handed to the waiting request
            return exc
