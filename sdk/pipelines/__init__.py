"""Pipelines that orchestrate several task packages with learned models (e.g. ``animate``: motion synthesis +
physics + an optional video-diffusion guidance); layer 6 of docs/architecture.md, next to the facade."""
