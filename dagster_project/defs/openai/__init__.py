"""OpenAI organisation usage and costs."""
