"""``bridge call``: a simulated caller that dials a running bridge over a carrier protocol."""
