"""`python -m selinonc.compiler` runs the command line."""

from selinonc.compiler.cli import main

main()
