"""Analyze: detectors turn samples into symptoms; symptoms group into incidents."""
