"""Errors raised for bad input. Both are `ValueError`s, so ``except ValueError`` catches them."""


class DomainError(ValueError):
    """An op got a value outside its domain, e.g. ``log`` of a non-positive number."""


class DivisionByZeroError(DomainError, ZeroDivisionError):
    """Division (or a negative power) of zero; also a `ZeroDivisionError`, as Python's own is."""
