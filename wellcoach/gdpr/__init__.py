"""GDPR: exports (Art. 20), erasure by crypto-shredding (Art. 17), retention, audit."""
