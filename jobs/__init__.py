"""RQ adapter: queues and job functions, thin wrappers over core calls."""
