"""civic-feedback: a JavaScript-free rating widget, its collector, flusher and analytics."""

__version__ = "0.1.0"
