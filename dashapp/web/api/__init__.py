"""The JSON, export, metrics and probe routes, registered by dashapp.web.routes."""
