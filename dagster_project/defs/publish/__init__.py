"""Publishing: the copy of the marts BI tools open, replaced atomically after a build's checks pass."""
