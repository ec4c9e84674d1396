"""Engines: text through a model. Tasks see only `base.Engine`."""
