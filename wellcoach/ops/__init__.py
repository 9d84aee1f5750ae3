"""Operations: dependency health checks, partition maintenance, status."""
