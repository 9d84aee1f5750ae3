"""Sliding-window rate limits in Redis, on the `limits` library."""

from wellcoach.ratelimit.limiter import Decision, RateLimiter

__all__ = ["Decision", "RateLimiter"]
