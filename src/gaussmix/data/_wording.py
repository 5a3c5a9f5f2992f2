"""English for error messages: one column or several."""


def _plural(word: str, items) -> str:
    return word if len(items) == 1 else word + "s"


def _them(items) -> str:
    return "it" if len(items) == 1 else "them"


def _has(items) -> str:
    return "has" if len(items) == 1 else "have"
