"""The client side of the HTTP benchmarks: requests from processes x threads, or wrk, and the
CPU each request cost the server, its database and the machine (Linux /proc)."""

from __future__ import annotations

import http.client
import multiprocessing.pool
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

HOST = "127.0.0.1"


def get(port: int, path: str, body: bytes | None = None) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection(HOST, port, timeout=30)
    try:
        headers = {"Content-Type": "application/json"} if body is not None else {}
        connection.request("POST" if body is not None else "GET", path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


@dataclass(frozen=True)
class Row:
    name: str
    method: str
    paths: list[str]
    bodies: list[bytes] | None
    # Each measurement takes the next paths of the list rather than starting over: no path is
    # sent twice (the list holds as many as the run sends).
    onward: bool = False


def _client_process(args: tuple[int, Row, int, int, int]) -> tuple[list[float], int]:
    """One client process: ``threads`` threads sending ``count`` requests in all."""
    port, row, count, threads, offset = args
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()

    def worker(first: int, n: int) -> None:
        nonlocal errors
        mine: list[float] = []
        bad = 0
        for i in range(first, first + n):
            path = row.paths[i % len(row.paths)]
            body = row.bodies[i % len(row.bodies)] if row.bodies else None
            started = time.perf_counter()
            status, _ = get(port, path, body)
            mine.append(time.perf_counter() - started)
            bad += status != 200
        with lock:
            latencies.extend(mine)
            errors += bad

    share = count // threads
    pool = [threading.Thread(target=worker, args=(offset + t * share, share)) for t in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return latencies, errors


@dataclass(frozen=True)
class Measure:
    rps: float
    p50_ms: float
    p99_ms: float
    n: int
    errors: int
    # CPU milliseconds per request: gunicorn (master and workers), the database server, the whole
    # machine (the rest is the client and the kernel's share of both ends).
    cpu_ms: tuple[float, float, float] = (0.0, 0.0, 0.0)


def _cpu_seconds(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:  # gone meanwhile
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as children:
            return [int(child) for child in children.read().split()]
    except OSError:
        return []


def _database_pids() -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/comm") as comm:
                    if comm.read().strip() == "postgres":
                        found.append(int(entry))
            except OSError:
                continue
    return found


def _machine_busy_seconds() -> float:
    with open("/proc/stat") as stat:
        values = [int(v) for v in stat.readline().split()[1:9]]
    return (sum(values) - values[3] - values[4]) / os.sysconf("SC_CLK_TCK")  # all but idle, iowait


def cpu_snapshot(server_pid: int) -> tuple[float, float, float]:
    """CPU seconds used so far by the server's processes, the database's, and the machine."""
    server = sum(_cpu_seconds(pid) for pid in [server_pid, *_children(server_pid)])
    return server, sum(_cpu_seconds(pid) for pid in _database_pids()), _machine_busy_seconds()


def with_cpu(measure: Callable[[], Measure], server_pid: int) -> Measure:
    """``measure()`` with the CPU it cost per request (Linux /proc; 10 ms ticks, so use rows of
    a second or more)."""
    before = cpu_snapshot(server_pid)
    measured = measure()
    after = cpu_snapshot(server_pid)
    per_request = tuple((b - a) * 1000 / max(1, measured.n) for a, b in zip(before, after, strict=True))
    return replace(measured, cpu_ms=per_request)  # type: ignore[arg-type]


def measure_python(
    pool: multiprocessing.pool.Pool,
    port: int,
    row: Row,
    requests: int,
    clients: int,
    threads: int,
    start: int = 0,
) -> Measure:
    """``requests`` requests of ``row``, its paths from index ``start`` on (cycling)."""
    per_client = requests // clients
    jobs = [(port, row, per_client, threads, start + c * per_client) for c in range(clients)]
    started = time.perf_counter()
    results = pool.map(_client_process, jobs)
    elapsed = time.perf_counter() - started
    latencies = sorted(lat for lats, _ in results for lat in lats)
    errors = sum(e for _, e in results)
    n = len(latencies)
    return Measure(
        n / elapsed, latencies[n // 2] * 1000, latencies[min(n - 1, int(n * 0.99))] * 1000, n, errors
    )


_WRK_LUA = """
local paths, bodies, i = {}, {}, 0
for line in io.lines(os.getenv("WRK_PATHS")) do table.insert(paths, line) end
local method = os.getenv("WRK_METHOD")
request = function()
  i = i + 1
  local path = paths[(i % #paths) + 1]
  if method == "POST" then
    local token = path
    return wrk.format("POST", "/api/v1/verify", {["Content-Type"] = "application/json"},
                      '{"token": "' .. token .. '"}')
  end
  return wrk.format("GET", path)
end
"""


def measure_wrk(port: int, row: Row, seconds: int, connections: int, tokens: list[str]) -> Measure:
    folder = Path(tempfile.mkdtemp(prefix="verify-http-wrk-"))
    try:
        script = folder / "rotate.lua"
        script.write_text(_WRK_LUA)
        paths = folder / "paths.txt"
        paths.write_text("\n".join(tokens if row.method == "POST" else row.paths) + "\n")
        env = os.environ | {"WRK_PATHS": str(paths), "WRK_METHOD": row.method}
        output = subprocess.run(
            [
                "wrk",
                "-t2",
                f"-c{connections}",
                f"-d{seconds}s",
                "--latency",
                "-s",
                str(script),
                f"http://{HOST}:{port}/",
            ],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    finally:
        shutil.rmtree(folder, ignore_errors=True)

    def millis(label: str) -> float:
        match = re.search(rf"{label}\s+([\d.]+)(us|ms|s)", output)
        assert match, output
        value, unit = float(match.group(1)), match.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    total = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    errors_match = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return Measure(
        rps, millis("50%"), millis("99%"), total, int(errors_match.group(1)) if errors_match else 0
    )
