"""Image pipeline example: tasks, foreach functions and fixture data for `flows.yaml`."""
