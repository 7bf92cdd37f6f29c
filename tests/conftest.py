"""Test-wide setup: the stand-in task modules of tests/stubs import, here and in subprocesses."""

from __future__ import annotations

from tests.stubs_path import use_stubs

use_stubs()
