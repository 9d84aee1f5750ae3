"""LLM and embedding providers, model routing and the response cache."""
