"""Custom predicates for the SC406-custom-predicate-args golden case (imported by the check)."""


def hasTag(message, tag):
    return tag in message.get("tags", ())
