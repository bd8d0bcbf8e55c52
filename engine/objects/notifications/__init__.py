"""S3 event notifications into queues: configuration, event records, the outbox and its
delivery. See docs/objects.md, "Event notifications"."""
