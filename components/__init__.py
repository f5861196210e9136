"""Inference-time components, one module per technique, with their prompts."""
