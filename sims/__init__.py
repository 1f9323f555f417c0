"""Protocol-level simulators over one shared World (installed as tepl.sims)."""
