"""Task classes of the SC508-task-module-misspelt golden case."""

from selinonc.runtime import SelinonTask


class Fetch(SelinonTask):
    def run(self, node_args):
        return node_args


class Store(SelinonTask):
    def run(self, node_args):
        return None
