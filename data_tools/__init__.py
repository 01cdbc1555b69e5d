"""Data tools: offline speech synthesis, the simulated phone fleet, real-data import, validation."""
