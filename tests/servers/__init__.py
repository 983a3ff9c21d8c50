"""In-test servers: Elasticsearch bulk API, Lumberjack v2, and a redis-server launcher."""
