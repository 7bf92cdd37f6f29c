"""A task module that cannot be imported without its deployment's settings (SC507 golden case)."""

import os

DATABASE_URL = os.environ["SC507_DATABASE_URL"]
