"""Widgets of the lab list and the lab view."""
