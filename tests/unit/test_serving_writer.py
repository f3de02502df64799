"""Group commit: concurrent requests share commits; one bad request fails alone."""

from __future__ import annotations

import asyncio
import time

import pytest

from loopwatch.serving.log_store import Prepared
from loopwatch.serving.writer import GroupCommitWriter, WriterClosed


class SlowStore:
    """Records each commit; a commit takes a while, like a disk sync, so requests pile up."""

    def __init__(self, delay=0.005):
        self.commits, self.rows, self.delay = [], [], delay

    def prepare(self, rows):
        return Prepared(("i",), list(rows))

    def write_prepared(self, groups):
        rows = [row for group in groups for row in group.values]
        time.sleep(self.delay)
        if any(r.get("bad") for r in rows):
            raise ValueError("bad row")
        self.commits.append(len(rows))
        self.rows.extend(rows)
        return len(rows)


@pytest.mark.parametrize("inline", [True, False])
def test_concurrent_writes_share_commits_and_all_land(inline):
    store = SlowStore()
    writer = GroupCommitWriter(store, inline=inline).start()

    async def request(i):
        await asyncio.sleep(0.001 * (i % 5))  # requests arrive spread over a few ms
        await writer.write([{"i": i}, {"i": i}])

    async def main():
        await asyncio.gather(*(request(i) for i in range(50)))
        await writer.aclose()

    asyncio.run(main())
    assert sorted(r["i"] for r in store.rows) == sorted(list(range(50)) * 2)
    assert len(store.commits) < 10  # grouped: far fewer commits than requests
    assert writer.groups == len(store.commits)


def test_a_failing_request_does_not_fail_its_group():
    store = SlowStore()
    writer = GroupCommitWriter(store, inline=True).start()

    async def main():
        return await asyncio.gather(writer.write([{"i": 0}]), writer.write([{"bad": True}]),
                                    writer.write([{"i": 2}]), return_exceptions=True)

    results = asyncio.run(main())
    assert results[0] is None and results[2] is None
    assert isinstance(results[1], ValueError)
    assert sorted(r["i"] for r in store.rows) == [0, 2]


def test_close_flushes_and_refuses_new_rows():
    store = SlowStore(delay=0)
    writer = GroupCommitWriter(store).start()

    async def main():
        pending = asyncio.ensure_future(writer.write([{"i": 1}]))
        await asyncio.sleep(0)
        await writer.aclose()
        await pending
        with pytest.raises(WriterClosed):
            await writer.write([{"i": 2}])

    asyncio.run(main())
    assert store.rows == [{"i": 1}]


def test_writes_run_off_the_event_loop_whatever_the_store(tmp_path):
    from loopwatch.serving.log_store import LogStore

    assert not GroupCommitWriter(LogStore(f"sqlite:///{tmp_path / 'p.db'}")).inline
    assert not GroupCommitWriter(SlowStore()).inline
