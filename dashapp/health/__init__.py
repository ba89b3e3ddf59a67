"""Probes of each service and the health snapshot."""
