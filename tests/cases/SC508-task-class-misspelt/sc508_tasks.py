"""Task classes of the SC508-task-class-misspelt golden case."""

from selinonc.runtime import SelinonTask


class FetchPage(SelinonTask):
    def run(self, node_args):
        return node_args


class StorePage(SelinonTask):
    def run(self, node_args):
        return None


def helper():
    return None
