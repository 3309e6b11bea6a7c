"""Fast-AED student for vadbench (re-implementation of Croitoru, Ristea et al., CVIU 2024)."""

from .model import FastAED

__all__ = ["FastAED"]
