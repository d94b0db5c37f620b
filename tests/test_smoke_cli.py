from conftest import run_cli, run_kjob


def test_submit_then_status_by_tag(emulator):
    submitted = run_cli(["submit", "/alter/table", "-q", "--url", emulator.url,
                         "--data", '{"table_name": "t", "action": "refresh", "value": ""}'])
    assert submitted.exit_code == 0, submitted.stderr
    tag = submitted.stdout.strip()
    looked = run_kjob(["status", tag, "--json", "--url", emulator.url])
    assert looked.returncode == 0, looked.stderr
    assert tag in looked.stdout.decode()
