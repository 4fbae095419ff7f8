"""tradeoffs: measure the perception-distortion-uncertainty tradeoffs of generative image restorers."""

__version__ = "0.1.0"
