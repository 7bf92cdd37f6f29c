"""Task code written for Selinon (SC510-selinon-modules golden case): it imports Selinon."""

from selinon import SelinonTask


class Fetch(SelinonTask):
    def run(self, node_args):
        return node_args
