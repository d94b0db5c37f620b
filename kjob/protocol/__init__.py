"""Kinetica's wire protocol: schemas, Avro binary, JSON and snappy. No HTTP, no I/O."""
