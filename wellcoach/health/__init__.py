"""Health data: samples from HealthKit / Health Connect and Apple exports, summaries."""
