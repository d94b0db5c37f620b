"""kjob's HTTP client, in layers: session.py (the requests session, deadlines, bodies, failure
reasons) -> exchange.py (one exchange with one cluster) -> ring.py (failover, backoff,
discovery) -> api.py (the job API the commands use: `Client`). Never prints: it reports
through return values, kjob errors and callbacks."""
