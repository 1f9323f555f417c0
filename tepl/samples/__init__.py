"""Small sample files for trying ``tepl import`` (``tepl samples`` copies them into a folder).

- ``spectrum.sif``: an Andor Solis spectrum (iDus 420 on a Kymera 193), 17 kB, the file of the SIF import
  tests (``tests/fixtures/idus420_kymera193_cli-0.sif``); licence in ``LICENSE-spectrum.sif``.
- ``decay.ptu``: a PicoQuant HydraHarp T3 recording (PTU format version 2.0), 431 kB, the file of the PTU
  tests (``tests/fixtures/picoquant/hydraharp_v20_t3.ptu``); licence in ``LICENSE-decay.ptu``.
"""

from __future__ import annotations

from pathlib import Path

SAMPLES_DIR = Path(__file__).resolve().parent
SAMPLE_FILES = {"spectrum.sif": "an Andor Solis spectrum (iDus 420 on a Kymera 193)",
                "decay.ptu": "a PicoQuant HydraHarp 400 T3 recording (PTU)"}
"""Sample file name -> what it is."""
