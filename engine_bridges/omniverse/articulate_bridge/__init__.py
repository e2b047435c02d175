"""Omniverse bridge: ask the SDK (in-process or over gRPC) for a prop's joints and animate it on the stage.

``stage_ops`` is plain OpenUSD and tested; ``extension`` is the Kit shell (needs ``omni.*``: unverified here).
"""
