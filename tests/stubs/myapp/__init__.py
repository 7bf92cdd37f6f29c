"""Stand-in project package of the test configurations (see ../stub_tasks.py)."""
