"""Sync Monitor: the Dash app (pages, components, JSON routes, recorder, demo, configuration)."""
