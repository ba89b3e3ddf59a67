"""The web layer: app factory, serving, ids, pages, components, the JSON routes and the one route table (routes.py)."""
