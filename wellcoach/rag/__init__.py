"""Retrieval-augmented generation: the knowledge base, embeddings and hybrid search."""
