"""The transactional outbox: side effects written with the change, delivered by the worker."""
