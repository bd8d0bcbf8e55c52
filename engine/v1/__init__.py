"""Generated gRPC stubs for package engine.v1 (built from proto/engine/v1, never edited)."""
