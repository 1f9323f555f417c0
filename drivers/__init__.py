"""Drivers: each speaks one vendor's real protocol over the transport it is given (installed as tepl.drivers)."""
