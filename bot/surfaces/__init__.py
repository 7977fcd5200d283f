"""Chat surfaces: each adapts one platform to the router (incoming lines, outgoing replies)."""
