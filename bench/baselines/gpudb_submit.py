"""Baseline: the official client submits a JSON payload file as a job, as `kjob submit --file` does."""

import json
import sys

import gpudb
import snappy

url, endpoint, path, encoding, tag = sys.argv[1:6]
db = gpudb.GPUdb(host=url)
with open(path, encoding="utf-8") as handle:
    payload = json.load(handle)
if encoding == "json":
    data, data_str = b"", json.dumps(payload)
else:
    avro = db.gpudb_schemas[endpoint]["REQ_SCHEMA"].encode(payload)
    data, data_str = (snappy.compress(avro) if encoding == "snappy" else avro), ""
created = db.create_job(endpoint, encoding, data, data_str, {"job_tag": tag})
print(created["job_id"])
