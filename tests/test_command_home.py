"""Each command's help is written once; --profile goes through click; exit codes are one enum."""

from __future__ import annotations

import re

from conftest import run_cli, run_kjob

from kjob.cli import COMMANDS
from kjob.errors import EXIT_CODES, SEVERITY, ExitStatus


def test_each_commands_line_in_kjob_help_is_the_first_line_of_its_own_help():
    listed = run_cli(["--help"]).stdout
    for name in COMMANDS:
        own = run_cli([name, "--help"]).stdout.split("\n\n")[1].strip()  # after "Usage: ..."
        first = " ".join(own.split("\n\n")[0].split())  # click wraps the paragraph
        phrase = (first[0].lower() + first[1:]).rstrip(".")
        row = re.search(rf"^  {name} +(.*(?:\n {{14}}\S.*)*)", listed, re.MULTILINE)
        assert row is not None, name
        assert " ".join(row.group(1).split()) == phrase


def test_a_profile_that_cannot_be_read_still_lets_the_help_show(tmp_path):
    config = tmp_path / "kjob.toml"
    config.write_bytes(b'[profiles.dev]\nhttp_timeout = "soon"\n')
    env = {"KJOB_CONFIG": str(config)}
    helped = run_cli(["status", "--profile", "dev", "--help"], env=env)
    assert helped.exit_code == 0 and helped.stdout.startswith("Usage: kjob status [OPTIONS] REF...\n")
    refused = run_cli(["status", "1", "--profile", "dev"], env=env)
    assert refused.exit_code == ExitStatus.USAGE
    assert refused.stderr == ("kjob: config file " + str(config)
                              + ": profile 'dev': http_timeout must be a finite number of seconds, not a string\n")


def test_a_profile_named_before_the_command_gives_its_url(tmp_path, emulator):
    config = tmp_path / "kjob.toml"
    config.write_text(f'[profiles.emu]\nurl = "{emulator.url}"\n')
    result = run_kjob(["--profile", "emu", "list", "-q"], env={"KJOB_CONFIG": str(config)})
    assert (result.returncode, result.stdout, result.stderr) == (0, b"", b"")
    wrong = run_kjob(["--profile", "emu", "--url", "http://127.0.0.1:9", "list"], env={"KJOB_CONFIG": str(config)},
                     timeout=30)
    assert wrong.returncode == ExitStatus.UNREACHABLE  # the command line wins over the profile


def test_every_exit_code_is_one_member_with_its_text():
    assert list(EXIT_CODES) == [int(status) for status in ExitStatus] == sorted(EXIT_CODES)
    assert set(SEVERITY) <= set(ExitStatus) and len(set(SEVERITY)) == len(SEVERITY)
    assert EXIT_CODES[ExitStatus.BROKEN_PIPE] == "the reader of stdout went away (kjob ... | head -1)"
