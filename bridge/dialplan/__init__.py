"""Declarative IVR flows (YAML dialplans): schema, checks, graph and the interpreter."""
