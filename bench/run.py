"""kjob's benchmarks: whole processes, side by side with their baselines, against the emulator.

    python bench/run.py [MEASURE ...]      (make bench runs them all)

MEASURE is one of: startup, status, upload, download, payloads, wait. Every figure is a
whole process measured by the operating system (wall and CPU time, peak RSS from wait4);
comparisons run A B A B ... and report the min and median of each and of the ratios A/B,
since these machines are noisy. Sizes: KJOB_BENCH_MB (default 512) for uploads and
downloads, half of it for JSON payloads; KJOB_BENCH_RUNS (default 10) for the quick ones.
Only the standard library and the packages kjob's test extra installs are used.
"""

from __future__ import annotations

import json
import os
import pty
import resource
import select
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PYTHON = sys.executable
KJOB = [os.path.join(os.path.dirname(PYTHON), "kjob")]  # the console script, as users run it
BASELINES = HERE / "baselines"
MB = 1 << 20
SIZE_MB = int(os.environ.get("KJOB_BENCH_MB", "512"))
RUNS = int(os.environ.get("KJOB_BENCH_RUNS", "10"))
ENV = {key: value for key, value in os.environ.items() if not key.startswith(("KJOB_", "KI_"))}
ENV.pop("PYTHONDONTWRITEBYTECODE", None)  # bytecode is part of a real start-up
ROWS: list[tuple[str, str, str, str]] = []


# --- measuring one process -----------------------------------------------------------------


class Run:
    def __init__(self, wall: float, cpu: float, peak_mb: float, code: int, stdout: bytes) -> None:
        self.wall, self.cpu, self.peak_mb, self.code, self.stdout = wall, cpu, peak_mb, code, stdout


def run(command: list[str], *, stdin: bytes | None = None, env: dict | None = None, check: bool = True,
        settle: bool = False) -> Run:
    """One whole process: wall time, CPU (user + sys) and peak RSS, as the kernel counted them.

    `settle` first writes every dirty page to disk (os.sync), so that a run does not pay for
    the write-back of the run before it."""
    if settle:
        os.sync()
    started = time.monotonic()
    process = subprocess.Popen(command, stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env or ENV, cwd=ROOT)
    reader = threading.Thread(target=lambda: setattr(process, "captured", process.stdout.read()))
    reader.start()
    if stdin is not None:
        process.stdin.write(stdin)
        process.stdin.close()
    errors = process.stderr.read()
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    reader.join()
    wall = time.monotonic() - started
    if check and process.returncode != 0:
        raise SystemExit(f"bench: {' '.join(command)} exited {process.returncode}: {errors.decode()[-500:]}")
    return Run(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, process.returncode, process.captured)


def pair(a: list[str], b: list[str], runs: int = RUNS, warm_up: bool = True, **kwargs) -> tuple[list[Run], list[Run]]:
    """A and B in turn, after one warm-up of each."""
    if warm_up:
        run(a, **kwargs), run(b, **kwargs)
    first, second = [], []
    for _ in range(runs):
        first.append(run(a, **kwargs))
        second.append(run(b, **kwargs))
    return first, second


def stats(values: list[float]) -> str:
    return f"min {min(values):.3f} med {statistics.median(values):.3f}"


def ratio(first: list[Run], second: list[Run], field: str = "cpu") -> tuple[float, float]:
    ratios = [getattr(a, field) / getattr(b, field) for a, b in zip(first, second, strict=True)]
    return min(ratios), statistics.median(ratios)


def row(measure: str, kjob: str, baseline: str, verdict: str) -> None:
    ROWS.append((measure, kjob, baseline, verdict))
    print(f"  {measure}: {kjob} | {baseline} | {verdict}", flush=True)


def verdict(value: float, limit: float, lower_is_better: bool = True) -> str:
    good = value <= limit if lower_is_better else value >= limit
    return f"{'ok' if good else 'MISSED'} (target {'<=' if lower_is_better else '>='} {limit:g})"


# --- the emulator ----------------------------------------------------------------------------


class Emulator:
    """The emulator as a process of its own, with its CPU time counted apart."""

    def __init__(self, *args: str) -> None:
        self.folder = tempfile.mkdtemp(prefix="kjob-bench-")
        url_file = os.path.join(self.folder, "url")
        self.process = subprocess.Popen([PYTHON, "-m", "kjob.emulator", "--port", "0", "--url-file", url_file, *args],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=ENV, cwd=ROOT)
        deadline = time.monotonic() + 20
        while not os.path.exists(url_file):
            if time.monotonic() > deadline or self.process.poll() is not None:
                raise SystemExit("bench: the emulator did not start")
            time.sleep(0.05)
        self.url = Path(url_file).read_text().split()[0]

    def cpu(self) -> float:
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def get(self, path: str) -> dict:
        with urllib.request.urlopen(self.url + path, timeout=10) as answer:
            return json.load(answer)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=20)


def submit(emulator: Emulator, payload: dict, endpoint: str = "/alter/table") -> str:
    done = run([*KJOB, "submit", endpoint, "-q", "--url", emulator.url, "--data", json.dumps(payload)])
    return done.stdout.decode().strip()


def alter(duration: float = 0, **options: str) -> dict:
    return {"table_name": "bench", "action": "refresh", "value": "",
            "options": {"emulator_duration": str(duration), **options}}


# --- the measures --------------------------------------------------------------------------


def measure_startup(_: Emulator) -> None:
    bare = [PYTHON, str(BASELINES / "bare_click.py")]
    for args in (["--help"], ["status", "--help"]):
        first, second = pair([*KJOB, *args], [*bare, *args])
        low, median = ratio(first, second)
        _, wall_median = ratio(first, second, "wall")
        row(f"kjob {' '.join(args)} vs a bare click program (cpu ratio; wall)",
            f"cpu {stats([r.cpu for r in first])} s", f"cpu {stats([r.cpu for r in second])} s",
            f"ratio min {low:.2f} med {median:.2f}; wall med {wall_median:.2f}; {verdict(median, 1.25)}")
    probe = ("import sys\nfrom kjob.cli import main\ntry:\n    main(['status', '--help'])\nexcept SystemExit:\n    pass\n"
             "heavy = [m for m in ('requests', 'urllib3', 'rich', 'fastavro', 'snappy') if m in sys.modules]\n"
             "sys.stderr.write('heavy modules loaded: %s\\n' % (heavy or 'none'))")
    shown = subprocess.run([PYTHON, "-X", "importtime", "-c", probe], capture_output=True, env=ENV, cwd=ROOT, text=True)
    lines = [line for line in shown.stderr.splitlines() if line.startswith("import time:") and "cumulative" not in line]
    top = sorted(lines, key=lambda line: int(line.split("|")[1]), reverse=True)[:6]
    print("  python -X importtime, `kjob status --help`, largest cumulative imports (us):")
    for line in top:
        print("   ", line.replace("import time:", "").strip())
    print("   ", shown.stderr.splitlines()[-1])


def measure_status(emulator: Emulator) -> None:
    tag = submit(emulator, alter())
    kjob = [*KJOB, "status", tag, "--url", emulator.url]
    for name, other in (("import requests", [PYTHON, "-c", "import requests"]),
                        ("a lazy click program importing requests, posting once",
                         [PYTHON, str(BASELINES / "requests_post.py"), "status", tag, "--url", emulator.url]),
                        ("gpudb: import, connect, get_job", [PYTHON, str(BASELINES / "gpudb_status.py"), emulator.url, tag])):
        first, second = pair(kjob, other)
        low, median = ratio(first, second)
        _, wall_median = ratio(first, second, "wall")
        limit = {"import requests": 1.3, "gpudb: import, connect, get_job": 0.5}.get(name)
        row(f"kjob status vs {name} (cpu ratio; wall)", f"cpu {stats([r.cpu for r in first])} s",
            f"cpu {stats([r.cpu for r in second])} s",
            f"ratio min {low:.2f} med {median:.2f}; wall med {wall_median:.2f}" + (f"; {verdict(median, limit)}" if limit else ""))


def big_payload_file(folder: str, size_mb: int) -> Path:
    """An /alter/table request in Avro binary whose `value` is size_mb MiB, written without holding it."""
    sys.path.insert(0, str(ROOT))
    from kjob.protocol import avro

    path = Path(folder) / f"payload-{size_mb}.avro"
    if not path.exists():
        value_size = size_mb * MB
        with open(path, "wb") as out:
            for text in ("bench", "refresh"):
                out.write(avro.encode_long(len(text)) + text.encode())
            out.write(avro.encode_long(value_size))
            block = b"v" * MB
            for _ in range(size_mb):
                out.write(block)
            out.write(b"\x02" + avro.encode_long(17) + b"emulator_duration" + avro.encode_long(1) + b"0" + b"\x00")
    return path


def _share(emulator_cpu: float, runs: list[Run]) -> float:
    """The emulator's part of all the CPU time the measured runs and it spent."""
    return emulator_cpu / (emulator_cpu + sum(r.cpu for r in runs))


def measure_upload(emulator: Emulator) -> None:
    path = big_payload_file(emulator.folder, SIZE_MB)
    size = path.stat().st_size
    idle = min(run([*KJOB, "--version"]).peak_mb for _ in range(3))
    kjob = [*KJOB, "submit", "/alter/table", "--avro", str(path), "--url", emulator.url, "-q"]
    bare = [PYTHON, str(BASELINES / "upload.py"), emulator.url, str(path)]
    run(kjob), run(bare)
    before = emulator.cpu()
    first, second = pair(kjob, bare, runs=3, warm_up=False, settle=True)
    share = _share(emulator.cpu() - before, first + second)
    peak = min(r.peak_mb for r in first) - idle
    row(f"kjob submit --avro ({SIZE_MB} MiB): peak RSS above idle kjob ({idle:.0f} MiB)",
        f"{peak:.1f} MiB", f"bare requests upload {min(r.peak_mb for r in second):.0f} MiB peak", verdict(peak, 64))
    speed = [size / r.wall / MB for r in first]
    base_speed = [size / r.wall / MB for r in second]
    _, median = ratio(second, first, "wall")
    row(f"kjob submit --avro ({SIZE_MB} MiB): throughput vs bare requests streaming upload",
        f"{statistics.median(speed):.0f} MiB/s (max {max(speed):.0f})", f"{statistics.median(base_speed):.0f} MiB/s",
        f"ratio med {median:.2f}; {verdict(median, 0.5, lower_is_better=False)}; emulator share of CPU {share:.0%}")
    snappy = run([*KJOB, "submit", "/alter/table", "--avro", str(path), "--encoding", "snappy", "--url", emulator.url, "-q"])
    # In a process of its own: reading 512 MiB here would swell every later child's peak RSS
    # (a forked child counts its parent's pages until it execs).
    probe = f"import cramjam; print(len(cramjam.snappy.compress_raw(open({str(path)!r}, 'rb').read())))"
    compressed = int(subprocess.check_output([PYTHON, "-c", probe], env=ENV)) / MB
    bound = size / MB + compressed
    row(f"kjob submit --avro --encoding snappy ({SIZE_MB} MiB): peak RSS above idle",
        f"{snappy.peak_mb - idle:.0f} MiB in {snappy.wall:.1f} s",
        f"payload {size / MB:.0f} + compressed {compressed:.0f} = {bound:.0f} MiB",
        f"{snappy.peak_mb - idle - bound:+.0f} MiB over the bound (modules loaded for snappy: about 5 MiB); "
        f"{verdict(snappy.peak_mb - idle, bound + 16)}")


def measure_download(emulator: Emulator) -> None:
    size = SIZE_MB * MB
    tag = submit(emulator, alter(emulator_response_bytes=str(size)))
    out = Path(emulator.folder) / "response.bin"
    idle = min(run([*KJOB, "--version"]).peak_mb for _ in range(3))
    kjob = [*KJOB, "fetch", tag, "--raw", "-o", str(out), "--url", emulator.url]
    bare = [PYTHON, str(BASELINES / "download.py"), emulator.url, tag, str(out) + ".bare"]
    run(kjob), run(bare)
    before = emulator.cpu()
    first, second = pair(kjob, bare, runs=3, warm_up=False, settle=True)
    share = _share(emulator.cpu() - before, first + second)
    peak = min(r.peak_mb for r in first) - idle
    row(f"kjob fetch --raw -o ({SIZE_MB} MiB): peak RSS above idle kjob ({idle:.0f} MiB)", f"{peak:.1f} MiB",
        f"bare requests download {min(r.peak_mb for r in second):.0f} MiB peak", verdict(peak, 64))
    print(f"  (each run, wall s: kjob {[round(r.wall, 2) for r in first]}, bare {[round(r.wall, 2) for r in second]})")
    _, median = ratio(second, first, "wall")
    row(f"kjob fetch --raw -o ({SIZE_MB} MiB): throughput vs bare requests streaming download",
        f"{size / statistics.median([r.wall for r in first]) / MB:.0f} MiB/s",
        f"{size / statistics.median([r.wall for r in second]) / MB:.0f} MiB/s",
        f"ratio med {median:.2f}; {verdict(median, 0.5, lower_is_better=False)}; emulator share of CPU {share:.0%}")
    synced = [run([*bare, "fsync"], settle=True) for _ in range(3)]
    row(f"kjob fetch --raw -o ({SIZE_MB} MiB): throughput vs the same download with fsync (kjob syncs before renaming)",
        f"{size / statistics.median([r.wall for r in first]) / MB:.0f} MiB/s",
        f"{size / statistics.median([r.wall for r in synced]) / MB:.0f} MiB/s",
        f"ratio med {statistics.median([r.wall for r in synced]) / statistics.median([r.wall for r in first]):.2f}")
    decoded = run([*KJOB, "fetch", tag, "-o", str(out) + ".json", "--url", emulator.url])
    row(f"kjob fetch -o, decoded ({SIZE_MB} MiB response): peak RSS / response size",
        f"{decoded.peak_mb:.0f} MiB in {decoded.wall:.1f} s", f"response {SIZE_MB} MiB",
        f"{decoded.peak_mb / SIZE_MB:.2f} x; {verdict(decoded.peak_mb / SIZE_MB, 2.5)}")
    for leftover in (out, Path(str(out) + ".bare"), Path(str(out) + ".json")):
        leftover.unlink(missing_ok=True)


def measure_payloads(emulator: Emulator) -> None:
    size_mb = max(1, SIZE_MB // 2)
    path = Path(emulator.folder) / f"payload-{size_mb}.json"
    with open(path, "w") as out:
        out.write('{"table_name": "bench", "action": "refresh", "value": "')
        block = "v" * MB
        for _ in range(size_mb):
            out.write(block)
        out.write('", "options": {"emulator_duration": "0"}}')
    for encoding in ("binary", "json", "snappy"):
        ours, theirs = [], []
        for _ in range(3):  # the tags must differ from run to run: no pair() here
            ours.append(run([*KJOB, "submit", "/alter/table", "--file", str(path), "--encoding", encoding, "--url", emulator.url, "-q"]))
            theirs.append(run([PYTHON, str(BASELINES / "gpudb_submit.py"), emulator.url, "/alter/table", str(path), encoding,
                               f"gpudb-{encoding}-{time.time_ns()}"]))
        rss, wall = ratio(ours, theirs, "peak_mb")[1], ratio(ours, theirs, "wall")[1]
        row(f"submit --file {size_mb} MiB JSON payload, --encoding {encoding}: peak RSS and time (median of 3)",
            f"{statistics.median(r.peak_mb for r in ours):.0f} MiB, {statistics.median(r.wall for r in ours):.2f} s",
            f"gpudb create_job {statistics.median(r.peak_mb for r in theirs):.0f} MiB, {statistics.median(r.wall for r in theirs):.2f} s",
            f"RSS {rss:.2f} x, time {wall:.2f} x; {verdict(max(rss, wall), 1.0)}")
    path.unlink()


def measure_wait(emulator: Emulator) -> None:
    count, interval = 200, 5.0  # kjob wait's default interval
    for mode in ("plain", "rich"):
        ends = _start_jobs(emulator, count)
        stats_before = emulator.get("/emulator/stats")
        seen: dict[str, float] = {}
        command = [*KJOB, "wait", *ends, "--url", emulator.url, "--json", "--progress", mode]
        started = time.monotonic()
        usage, code = _run_watching(command, seen, use_pty=mode == "rich")
        wall = time.monotonic() - started
        stats_after = emulator.get("/emulator/stats")
        late = [seen[tag] - ends[tag] for tag in ends if tag in seen]
        row(f"kjob wait on {count} jobs (ending over 3 to 22 s), --progress {mode}{' on a pty' if mode == 'rich' else ''}: CPU share of one core",
            f"{usage / wall:.1%} ({usage:.2f} s CPU in {wall:.1f} s)",
            f"{stats_after['connections'] - stats_before['connections']} connections opened (at most {stats_after['max_open']} open)",
            f"{len(seen)}/{count} seen, the latest {max(late):.2f} s after its end (interval {interval:g} s); "
            f"{verdict(usage / wall, 0.10)}; exit {code}")


def _start_jobs(emulator: Emulator, count: int) -> dict[str, float]:
    """Start `count` jobs that end over 3 to 22.5 s; each tag with (about) when its job ends."""
    sys.path.insert(0, str(ROOT))
    from kjob.config import Settings
    from kjob.http.api import Client
    from kjob.protocol import payload

    client = Client(Settings(urls=(emulator.url,)))
    schema = payload.request_schema("/alter/table")
    ends: dict[str, float] = {}
    for index in range(count):
        duration = 3 + (index % 40) * 0.5
        data, _ = payload.encode_payload(schema, alter(duration), "binary")
        created = client.create_job("/alter/table", "binary", data, "", f"bench-wait-{time.time_ns()}-{index}")
        ends[created.job_tag] = time.monotonic() + duration
    client.close()
    return ends


def _run_watching(command: list[str], seen: dict[str, float], use_pty: bool) -> tuple[float, int]:
    """Run `kjob wait --json`, noting when each job's line arrives; rich mode draws on a pty."""
    if use_pty:
        primary, secondary = pty.openpty()
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=secondary, stdin=subprocess.DEVNULL,
                                   env={**ENV, "TERM": "xterm-256color", "COLUMNS": "160", "LINES": "50"}, cwd=ROOT)
        os.close(secondary)
        drain = threading.Thread(target=_drain, args=(primary,), daemon=True)
        drain.start()
    else:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=ENV, cwd=ROOT)
    for line in process.stdout:
        seen[json.loads(line)["job_tag"]] = time.monotonic()
    _, status, usage = os.wait4(process.pid, 0)
    return usage.ru_utime + usage.ru_stime, os.waitstatus_to_exitcode(status)


def _drain(fd: int) -> None:
    try:
        while select.select([fd], [], [], 30)[0] and os.read(fd, 65536):
            pass
    except OSError:
        pass


MEASURES = {"startup": measure_startup, "status": measure_status, "upload": measure_upload,
            "download": measure_download, "payloads": measure_payloads, "wait": measure_wait}


def main(names: list[str]) -> int:
    unknown = [name for name in names if name not in MEASURES]
    if unknown:
        print(f"bench: unknown measure {', '.join(unknown)} (known: {', '.join(MEASURES)})", file=sys.stderr)
        return 2
    subprocess.run([PYTHON, "-m", "compileall", "-q", str(ROOT / "kjob"), str(BASELINES)], env=ENV, check=True)
    resource.setrlimit(resource.RLIMIT_NOFILE, (4096, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
    print(f"kjob benchmarks on {os.cpu_count()} CPUs, {RUNS} runs of the quick measures, {SIZE_MB} MiB transfers")
    for name in names or list(MEASURES):
        print(f"[{name}]", flush=True)
        emulator = Emulator()
        try:
            MEASURES[name](emulator)
        finally:
            emulator.stop()
    print()
    print("| measure | kjob | baseline | result |")
    print("|---|---|---|---|")
    for measure, kjob, baseline, result in ROWS:
        print(f"| {measure} | {kjob} | {baseline} | {result} |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
