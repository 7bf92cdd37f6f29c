"""Names of the SC509-task-class-not-a-task golden case: what a task class must not be."""

from selinonc.runtime import SelinonTask


def fetch(node_args):  # a function, not a class
    return node_args


class Plain:  # no constructor arguments, no run()
    pass


class NoRun(SelinonTask):  # abstract: run() is not implemented
    pass


class WrongConstructor:  # a run() but not the constructor drivers call
    def __init__(self, node_args):
        self.node_args = node_args

    def run(self, node_args):
        return node_args


class DuckTyped:  # what drivers call, without subclassing SelinonTask: accepted
    def __init__(self, flow_name, task_name, parent, task_id, dispatcher_id):
        self.task_name = task_name

    def run(self, node_args):
        return node_args


LIMIT = 10  # not even callable
