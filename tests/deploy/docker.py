"""Docker for the deploy tests: the image built once per run from the repository's Dockerfile (on
the local base image scripts/docker-base-image.sh makes), containers on the host's network (every
connection stays on loopback) that are always removed, and a database shaped as the warehouse's."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import need

ROOT = Path(__file__).resolve().parents[2]
BASE_IMAGE = os.environ.get("TEST_BASE_IMAGE", "debian:bookworm-slim")
# Names of what the tests make (containers, the image, compose projects, databases): two checkouts
# on one machine set their own (e.g. TEST_DOCKER_PREFIX=lane-b-).
PREFIX = os.environ.get("TEST_DOCKER_PREFIX", "sm-test-")
IMAGE = f"{PREFIX}sync-monitor:test"
APP_UID = 10001


def docker(*args: str, timeout: float = 60, check: bool = True) -> subprocess.CompletedProcess[str]:
    """``docker args...``, its output as text; a failure names the command and its stderr."""
    done = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)
    if check and done.returncode != 0:
        raise AssertionError(f"docker {' '.join(args[:3])} ... failed ({done.returncode}): {done.stderr[-3000:]}")
    return done


def docker_ready() -> None:
    """A docker daemon answers and the base image is there; else skip (fail under CI)."""
    if shutil.which("docker") is None:
        need("docker", "no docker command (apt-get install docker.io)")
    try:
        info = subprocess.run(["docker", "info", "--format", "{{.ServerVersion}}"], capture_output=True, text=True,
                              timeout=20)
    except subprocess.TimeoutExpired:
        need("docker", "`docker info` did not answer in 20 s")
    if info.returncode != 0:
        need("docker", f"the daemon does not answer: {info.stderr.strip()[-300:]}")
    if docker("image", "inspect", BASE_IMAGE, check=False).returncode != 0:
        need("docker", f"no {BASE_IMAGE} image: run `bash scripts/docker-base-image.sh` (.ci/setup does)")


def build_image() -> float:
    """Build IMAGE from the repository (the base image and the layer cache reused); returns seconds."""
    began = time.monotonic()
    docker("build", "--network", "host", "--build-arg", f"BASE_IMAGE={BASE_IMAGE}", "-t", IMAGE, str(ROOT),
           timeout=900)
    return time.monotonic() - began


def name(role: str) -> str:
    return f"{PREFIX}{role}-{uuid.uuid4().hex[:8]}"


@contextmanager
def container(role: str, env: dict[str, str], *command: str, options: tuple[str, ...] = ()) -> Iterator[str]:
    """A container of IMAGE on the host's network running ``command`` (the image's own when none),
    with ``env``; yields its name, and removes it at the end whatever happened."""
    container_name = name(role)
    environment = [item for key, value in env.items() for item in ("-e", f"{key}={value}")]
    docker("run", "-d", "--rm", "--name", container_name, "--network", "host", *options, *environment, IMAGE,
           *command)
    try:
        yield container_name
    finally:
        docker("rm", "-f", container_name, timeout=60, check=False)


def run_once(role: str, env: dict[str, str], *command: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    """Run a container of IMAGE to its end (``command``, or the image's own) on the host's network;
    removed afterwards, even when it overran ``timeout``."""
    container_name = name(role)
    environment = [item for key, value in env.items() for item in ("-e", f"{key}={value}")]
    try:
        return docker("run", "--rm", "--name", container_name, "--network", "host", *environment, IMAGE, *command,
                      timeout=timeout, check=False)
    finally:
        docker("rm", "-f", container_name, timeout=60, check=False)


def logs(container_name: str) -> str:
    done = docker("logs", "--tail", "40", container_name, check=False, timeout=20)
    return (done.stdout + done.stderr)[-3000:]


def running(container_name: str) -> bool:
    done = docker("inspect", "--format", "{{.State.Running}}", container_name, check=False, timeout=20)
    return done.stdout.strip() == "true"


def wait_for_http(url: str, container_name: str, seconds: float = 90) -> None:
    """Poll ``url`` until it answers 200; fail with the container's log if it stops or never does."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        if not running(container_name) or time.monotonic() > deadline:
            pytest.fail(f"{url} did not answer; the container's log:\n{logs(container_name)}")
        time.sleep(0.3)


def get(url: str) -> tuple[int, str, str]:
    """(status, content type, body) of a GET, errors included."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.headers.get("Content-Type", ""), response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Content-Type", ""), error.read().decode()
