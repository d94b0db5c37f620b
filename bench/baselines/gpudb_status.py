"""Baseline: the official client does what `kjob status TAG` does (import, connect, get_job)."""

import sys

import gpudb

url, tag = sys.argv[1:3]
db = gpudb.GPUdb(host=url)
job = db.get_job(-1, options={"job_tag": tag})
print(job["job_status"], job["progress"])
