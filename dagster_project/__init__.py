"""tokenspend: attributes LLM token spend to the features, workflows and teams that cause it."""
