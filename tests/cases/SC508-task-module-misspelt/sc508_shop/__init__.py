"""The package of the SC508-task-module-misspelt golden case."""
