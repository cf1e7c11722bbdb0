"""The three stores, each read whole and read-only: Kafka, Cassandra, S3."""
