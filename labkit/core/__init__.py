"""The ground floor: profiles, models, devices, evaluation, batching, the chat template, files and data."""
