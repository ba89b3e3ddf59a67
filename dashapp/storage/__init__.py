"""Engines, the user's tables (both shapes), the app's own tables and their migrations."""
