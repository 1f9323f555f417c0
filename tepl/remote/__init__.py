"""Instruments served over Pyro5 to a station on another computer.

``tepl.remote.server`` serves the roles of the instruments attached to one PC (``tepl serve-instruments``);
``tepl.remote.client`` is the station's side: a role proxy built for a config entry whose address is
``pyro://HOST:PORT/ROLE``; ``tepl.remote.wire`` is what both agree on (values on the wire, the twin's shared
World state). See docs/remote.md.
"""
