"""Alert rules, their configuration, evaluation, notification and actions."""
