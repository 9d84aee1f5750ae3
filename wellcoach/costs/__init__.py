"""The LLM cost ledger, budgets and reports."""
