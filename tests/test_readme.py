"""The README cannot drift from the tool: every command it shows runs here, against the emulator.

console blocks: each `$ ` line runs in bash (in order, one bash per block), and the output the
README shows must appear in what it prints, compared after ids, times and ports are made
neutral; a command exits 0 unless its line ends in `# exits N`. sh blocks run as scripts,
yaml blocks run their `kjob` lines, python blocks are executed. Starting the emulator is the
one command the test does itself, on free ports.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from kjob.emulator import Emulator

README = Path(__file__).resolve().parent.parent / "README.md"
BLOCK = re.compile(r"^```(\w+)\n(.*?)^```", re.MULTILINE | re.DOTALL)
PAYLOAD = '{"table_name": "sales", "action": "refresh", "value": "", "options": {"emulator_duration": "0.2"}}'


def blocks(kind: str) -> list[str]:
    return [body for found_kind, body in BLOCK.findall(README.read_text(encoding="utf-8")) if found_kind == kind]


def neutral(text: str) -> str:
    """Output with what changes from run to run made neutral."""
    text = re.sub(r"http://(127\.0\.0\.1|localhost):\d+", "http://localhost:PORT", text)
    text = re.sub(r"kjob-\d{8}T\d{6}Z-[0-9a-f]{12}", "kjob-TAG", text)
    text = re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", "TIME", text)
    text = re.sub(r"\d+\.\d+ s\b", "N s", text)
    text = re.sub(r" *\b\d+%", " N%", text)
    # Job ids: a cluster numbers every request it serves, so they depend on how often kjob looked.
    text = re.sub(r"\bjob \d+\b", "job ID", text)
    text = re.sub(r'"job_id":"?\d+"?', '"job_id":ID', text)
    text = re.sub(r"(?m)^ *\d+(?= )", "ID", text)
    text = re.sub(r"TIME  \d+  ", "TIME  ID  ", text)
    return "\n".join(line.rstrip() for line in text.splitlines())


def commands_of(block: str) -> list[tuple[str, list[str]]]:
    """A console block as (command, the output lines shown after it)."""
    found: list[tuple[str, list[str]]] = []
    for line in block.splitlines():
        if line.startswith("$ "):
            found.append((line[2:], []))
        elif found:
            found[-1][1].append(line)
    return found


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    """What the README's commands expect around them: a payload file, kjob on the PATH."""
    (tmp_path / "jobs").mkdir()
    (tmp_path / "jobs" / "refresh-sales.json").write_text(PAYLOAD)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PATH", os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"])
    monkeypatch.setenv("NO_COLOR", "1")
    return tmp_path


def run_shell(script: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(["bash", "-c", script], capture_output=True, text=True, env={**os.environ, **env}, timeout=120)


def run_console_block(block: str, emulator) -> list[tuple[str, list[str], int, str]]:
    """Run a console block's commands in one bash, as a user types them: (command, shown, exit, output)."""
    commands = [(command, shown) for command, shown in commands_of(block) if "kjob.emulator" not in command]
    script = ["exec 2>&1"]
    for index, (command, _) in enumerate(commands):
        for readme_url, real_url in (("http://localhost:9191", emulator.url), ("http://localhost:9192", emulator.urls[-1])):
            command = command.replace(readme_url, real_url)
        script += [command, f'echo "@@@ $? {index}"']
    result = run_shell("\n".join(script) + "\n", {"KJOB_URL": emulator.url})
    outcomes, output = [], []
    for line in result.stdout.splitlines():
        marker = re.fullmatch(r"@@@ (\d+) (\d+)", line)
        if marker:
            command, shown = commands[int(marker.group(2))]
            outcomes.append((command, shown, int(marker.group(1)), neutral("\n".join(output))))
            output = []
        else:
            output.append(line)
    assert len(outcomes) == len(commands), result.stdout
    return outcomes


def test_the_console_blocks_run_as_shown(workdir):
    assert len(blocks("console")) >= 8
    with Emulator(port=0, job_duration=1.0) as single, Emulator(port=0, backup_port=0, job_duration=1.0) as ring:
        for block in blocks("console"):
            for command, shown, code, output in run_console_block(block, ring if "--backup-port" in block else single):
                expected_code = int(re.search(r"# exits (\d+)$", command).group(1)) if "# exits" in command else 0
                assert code == expected_code, f"{command}\n{output}"
                lines, position = output.splitlines(), 0
                for expected in (neutral(line) for line in shown if line.strip()):
                    assert expected in lines[position:], f"{command}: README shows {expected!r}, kjob printed:\n{output}"
                    position = lines.index(expected, position) + 1


def test_the_sh_blocks_run(workdir):
    scripts = [block for block in blocks("sh") if not block.lstrip().startswith(("make ", "pip ", "pipx "))]
    assert len(scripts) >= 2  # the cron recipe and the emulator's example (set-up blocks are CI's own)
    with Emulator(port=0, job_duration=0.2) as emulator:
        for block in scripts:
            result = run_shell(block, {"KJOB_URL": emulator.url})
            assert result.returncode == 0, f"{block}\n{result.stdout}{result.stderr}"


def test_the_kjob_lines_of_the_ci_recipes_run(workdir):
    with Emulator(port=0, job_duration=0.2) as emulator:
        lines = [line.strip().removeprefix("- ") for block in blocks("yaml") for line in block.splitlines()
                 if line.strip().removeprefix("- ").startswith("kjob ")]
        assert len(lines) == 2  # GitHub Actions and GitLab CI
        env = {"KJOB_URL": emulator.url, "GITHUB_RUN_ID": "4242", "CI_PIPELINE_ID": "4243"}
        for line in lines:
            result = run_shell(line, env)
            assert result.returncode == 0, f"{line}\n{result.stdout}{result.stderr}"
        assert emulator.job_count() == 2


def test_the_python_blocks_run(workdir):
    assert blocks("python")
    for block in blocks("python"):
        exec(compile(block, "README.md", "exec"), {})
