"""Custom predicates and a strategy for the ok-custom-modules golden case (imported by the check).

Parameters with a default may be left out of `args`; a function taking **kwargs accepts any
argument. Output printed on import is silenced by `selinonc check`.
"""

print("this line must not reach the compiler's output")


def hasTag(message, tag):
    return tag in message.get("tags", ())


def argsMode(node_args, mode, strict=False):
    return node_args.get("mode") == mode or not strict


def anything(**kwargs):
    return True


def every(status, seconds):
    return seconds if status["active_nodes"] else None
