"""Tools for tests, benchmarks and demos: a scripted OpenAI-compatible LLM and a loopback server."""
