"""Order fulfilment example: tasks, foreach functions and simulated shop services."""
