"""Lander relay, space link simulator and ground station."""
