"""kjob's pytest plugin (registered by `pip install kjob`): the `kjob_emulator` fixture.

It gives a test an emulated Kinetica cluster on a free port of 127.0.0.1, or a ring of two
with `backup=True`, stopped when the test ends. Its settings come from the test's
`@pytest.mark.kjob_emulator(...)` marker or from indirect parametrization (a dict):

    faults   fault specs armed on the primary, e.g. ["http-503@/get/job*2"]
    seed     SQL statements run on the ring's database after the demo tables
    backup   True for a primary and a backup cluster
    and the keywords of kjob.emulator.Emulator (job_duration, max_get_records_size, db, ...)

kjob's record of submitted jobs is the test's own for the test's duration (XDG_STATE_HOME
is set to a temporary folder): jobs on an emulator that is gone never land in the user's
record, where `@last` would name them.
"""

from __future__ import annotations

import pytest

MARKER = ("kjob_emulator(**settings): the kjob_emulator fixture's settings: faults=[...], seed=[SQL...], "
          "backup=True for a ring, and kjob.emulator.Emulator's keywords")


def pytest_configure(config) -> None:
    config.addinivalue_line("markers", MARKER)


@pytest.fixture
def kjob_emulator(request, monkeypatch, tmp_path_factory):
    """An emulated Kinetica cluster (a ring with backup=True) on a free port, for one test,
    with a job record of the test's own."""
    from kjob.emulator import Emulator

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path_factory.mktemp("kjob-state")))

    marker = request.node.get_closest_marker("kjob_emulator")
    settings = dict(marker.kwargs) if marker else {}
    settings.update(getattr(request, "param", None) or {})
    backup = settings.pop("backup", False)
    settings.setdefault("job_duration", 0.1)
    settings["faults"] = tuple(settings.get("faults", ()))
    settings["seed"] = tuple(settings.get("seed", ()))
    with Emulator(port=0, backup_port=0 if backup else None, **settings) as emulator:
        yield emulator
