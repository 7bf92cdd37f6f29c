"""The servers end-to-end tests use: found on the machine, or skipped with the service's name
(in CI, where they must run, a missing server fails the test instead)."""

from __future__ import annotations

import os
import socket

import pytest

REDIS = ("Redis", "127.0.0.1", 6379)
RABBITMQ = ("RabbitMQ", "127.0.0.1", 5672)
POSTGRESQL = ("PostgreSQL", "127.0.0.1", 5432)
MARIADB = ("MariaDB", "127.0.0.1", 3306)


def _listening(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def require(*services: tuple[str, str, int]) -> None:
    """Skip (or, in CI, fail) unless every service listens."""
    for name, host, port in services:
        if not _listening(host, port):
            message = f"{name} is not running on {host}:{port}"
            if os.environ.get("CI"):
                pytest.fail(f"{message}; CI runs the end-to-end tests against it")
            pytest.skip(f"{message} (start it to run this test)")
