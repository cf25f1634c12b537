"""The knowledge store: samples, symptoms, incidents, decisions with outcomes, audit log."""
