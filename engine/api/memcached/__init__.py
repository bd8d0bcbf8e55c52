"""The Memcached endpoint: memcached 1.6's text and meta protocol on the node's own
CacheStore, in a key namespace of its own (docs/cache.md, "Memcached endpoint")."""
