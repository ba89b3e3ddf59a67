"""The app's own process and host, for /health and /api/system-health: process CPU and memory,
host memory and disk (psutil), uptime, request rate and the slowest recent requests (the same
requests ``/metrics`` times), each figure with an amber and a red threshold.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from pathlib import Path

import psutil

STARTED = time.time()
RECENT_REQUESTS = 2000  # kept in memory: (finished at, duration s, method, path); a few hundred KB at most
RATE_WINDOW = 300.0  # seconds the request rate is measured over
_recent: deque[tuple[float, float, str, str]] = deque(maxlen=RECENT_REQUESTS)
_lock = threading.Lock()
_process = psutil.Process()
_process.cpu_percent(None)  # the first reading is 0.0: prime it so the next one means something

# (amber from, red from), in percent
LIMITS = {"process_cpu_percent": (80.0, 95.0), "host_memory_percent": (85.0, 95.0),
          "disk_percent": (85.0, 95.0)}
SLOW_REQUEST_SECONDS = (1.0, 5.0)


def observe(duration: float, method: str, path: str) -> None:
    """One finished request (called by ``dashapp.metrics`` after each request)."""
    with _lock:
        _recent.append((time.time(), duration, method, path[:120]))


def level(value: float | None, limits: tuple[float, float]) -> str:
    if value is None:
        return "unknown"
    return "red" if value >= limits[1] else "amber" if value >= limits[0] else "ok"


def snapshot(data_path: Path | None = None) -> dict:
    """The figures now. Never raises: a figure psutil cannot read is None."""
    now = time.time()
    with _lock:
        recent = list(_recent)
    in_window = [r for r in recent if now - r[0] <= RATE_WINDOW]
    slowest = sorted(in_window, key=lambda r: -r[1])[:5]
    figures: dict = {"uptime_seconds": round(now - STARTED)}
    try:
        with _process.oneshot():
            figures["process_cpu_percent"] = round(_process.cpu_percent(None), 1)
            figures["process_memory_mb"] = round(_process.memory_info().rss / 1e6, 1)
    except psutil.Error:
        figures.update(process_cpu_percent=None, process_memory_mb=None)
    memory = psutil.virtual_memory()
    figures["host_memory_percent"] = round(memory.percent, 1)
    figures["host_memory_total_mb"] = round(memory.total / 1e6)
    try:
        disk = psutil.disk_usage(str(_existing(data_path or Path.cwd())))
        figures["disk_percent"], figures["disk_free_gb"] = round(disk.percent, 1), round(disk.free / 1e9, 1)
    except OSError:
        figures.update(disk_percent=None, disk_free_gb=None)
    figures["requests_per_minute"] = round(len(in_window) * 60.0 / min(RATE_WINDOW, max(now - STARTED, 1.0)), 1)
    figures["slowest_requests"] = [{"path": r[3], "method": r[2], "seconds": round(r[1], 3),
                                    "level": level(r[1], SLOW_REQUEST_SECONDS)} for r in slowest]
    levels = {name: level(figures.get(name), limits) for name, limits in LIMITS.items()}
    if slowest:
        levels["slowest_request_seconds"] = level(slowest[0][1], SLOW_REQUEST_SECONDS)
    return {**figures, "levels": levels}


def _existing(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path
