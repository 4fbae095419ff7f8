"""Distortion, perception and uncertainty metrics."""
