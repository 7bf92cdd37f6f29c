"""The selinonc runtime: what generated flow packages and Celery workers import.

It never imports the compiler, PyYAML, jsonschema or Jinja2 (ruff's banned-api rule enforces it,
see runtime/ruff.toml).
"""
