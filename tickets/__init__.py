"""The unified work order: model, lifecycle, SLA clock, store and event bus."""
