"""A FUSE filesystem that really loses unsynced writes on power off, and its tests."""
