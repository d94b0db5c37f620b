"""Baseline: a bare requests streaming download of a job's /get/job answer to a file.

With a fourth argument `fsync`, the file is flushed to disk at the end, as kjob does before it
renames a fetched file into place.
"""

import os
import sys

import requests

url, tag, path = sys.argv[1:4]
tag_bytes = tag.encode()
body = b"\x01" + b"\x02" + b"\x0ejob_tag" + bytes([len(tag_bytes) * 2]) + tag_bytes + b"\x00"
with requests.post(url + "/get/job", data=body, headers={"Content-Type": "application/octet-stream"}, stream=True) as answer, open(path, "wb") as out:
    for chunk in answer.iter_content(1 << 20):
        out.write(chunk)
    if sys.argv[4:] == ["fsync"]:
        out.flush()
        os.fsync(out.fileno())
