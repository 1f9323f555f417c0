"""tepl: instrument control for tip-enhanced photoluminescence and confocal microscopes."""

__version__ = "0.1.0"
