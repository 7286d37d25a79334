"""One module per lesson (``l01_sft`` … ``l06_persona``): its recipe, caches, file names and helpers.

A notebook imports its own lesson module; one lesson reaches another only through a call such as
``l01_sft.model(profile)``. The lesson table lives in :mod:`labkit.lessons.registry`.
"""
