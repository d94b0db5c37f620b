"""Baseline: a bare requests streaming upload of a file to the same server."""

import sys

import requests

url, path = sys.argv[1:3]
with open(path, "rb") as handle:
    answer = requests.post(url + "/emulator/sink", data=handle, headers={"Content-Type": "application/octet-stream"})
print(answer.json()["size"])
