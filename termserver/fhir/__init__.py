"""FHIR wire format: operation parameters in (params.py) and resources out (render.py)."""
