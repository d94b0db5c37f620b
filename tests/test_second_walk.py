"""A second newcomer's walk: the same job named by several REFs, deadlines that cut calls,
seconds as people read them, and the words kjob prints."""

from __future__ import annotations

from conftest import alter, run_cli, start


def test_refs_naming_one_job_by_the_same_key_follow_it_once(emulator):
    start(emulator.url, "/alter/table", alter(0), "--tag", "cities-report", "--wait")
    refs = ["cities-report", "tag:cities-report", " cities-report"]
    waited = run_cli(["wait", *refs, "--url", emulator.url])
    assert waited.exit_code == 0, waited.stderr
    assert waited.stdout.splitlines() == ["job cities-report /alter/table: already DONE"]
    looked = run_cli(["status", *refs, "1", "1", "--url", emulator.url])
    assert looked.exit_code == 0, looked.stderr
    line = f"job 1  DONE  100%  /alter/table  tag cities-report  on {emulator.url}"
    assert looked.stdout.splitlines() == [line, line]  # by tag, then by id: not matched before a look
    cancelled = run_cli(["cancel", *refs, "--url", emulator.url])
    assert cancelled.exit_code == 0, cancelled.stderr
    assert len(cancelled.stdout.splitlines()) == 1, cancelled.stdout
