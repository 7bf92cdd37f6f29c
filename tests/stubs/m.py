"""A stand-in task module: every public name is a task class (see stub_tasks.py)."""

from stub_tasks import any_task_class

__getattr__ = any_task_class("m")
