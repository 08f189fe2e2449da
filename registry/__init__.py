"""The framework-free domain: models and services of the authorized-body registry.

Nothing in this package imports Flask. Services take a SQLAlchemy ``Session`` and a
``now`` (timezone-aware datetime); they ``flush()`` but never commit: the caller owns
the transaction.
"""
