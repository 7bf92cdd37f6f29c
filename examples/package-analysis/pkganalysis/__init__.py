"""Package analysis example: tasks, foreach functions and an offline package registry."""
