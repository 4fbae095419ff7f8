"""Generators and critics: plain nn.Modules with no training logic."""
