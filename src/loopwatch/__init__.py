"""loopwatch: an MLOps loop that watches what its own models do to the world."""
__version__ = "0.1.0"
