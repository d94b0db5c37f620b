"""kjob starts like a small tool: heavy modules load only where a command needs them."""

import subprocess
import sys

HEAVY = ("requests", "urllib3", "rich", "fastavro", "snappy", "cramjam")


def loaded_after(code: str) -> list[str]:
    probe = f"import sys\n{code}\nprint(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    return eval(subprocess.check_output([sys.executable, "-c", probe], text=True).strip().splitlines()[-1])


def test_importing_the_cli_loads_nothing_heavy():
    assert loaded_after("import kjob.cli") == []


def test_help_loads_nothing_heavy():
    code = "from kjob.cli import cli\ntry:\n    cli.main(['status', '--help'], standalone_mode=False)\nexcept SystemExit:\n    pass"
    assert loaded_after(code) == []


def test_status_path_loads_neither_fastavro_nor_rich():
    code = "import kjob.http.api, kjob.protocol.codec, kjob.output.lines"
    assert loaded_after(code) == ["requests", "urllib3"]


def test_the_cli_never_imports_the_emulator():
    assert "kjob.emulator" not in subprocess.check_output(
        [sys.executable, "-c", "import sys, kjob.cli, kjob.http.api; print(list(sys.modules))"], text=True)
