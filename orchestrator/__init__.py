"""Federated training with TensorFlow Federated: the only package that imports it."""
