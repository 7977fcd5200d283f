"""The reliability suite: faults, crashes and hostile input (reduced in `make test`, full in `make soak`)."""
