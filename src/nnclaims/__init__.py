"""nnclaims: test popular claims about neural networks end to end, from data to a PDF report."""

__version__ = "0.1.0"
