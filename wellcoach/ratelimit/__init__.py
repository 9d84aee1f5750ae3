"""Sliding-window rate limits in Redis, on the `limits` library."""

from wellcoach.ratelimit.limiter import Decision, RateLimiter
from wellcoach.ratelimit.pseudonyms import pseudonym, pseudonym_key

__all__ = ["Decision", "RateLimiter", "pseudonym", "pseudonym_key"]
