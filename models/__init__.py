"""Keras model builders for wake-word detection (one module per architecture, one registry)."""
