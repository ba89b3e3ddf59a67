"""Retries: claiming, the broker, tracking in the worker (worker only), the action (role check, audit)."""
