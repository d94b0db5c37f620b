"""Every byte kjob writes to a terminal, a pipe or a log: data on stdout, the rest on stderr.

terminal: what each stream is (a terminal? colour?), asked once. lines: each command's output,
--json, -q or human, chosen once per run. progress: what `kjob wait` shows while jobs run
(bars, lines or nothing), chosen once. outcomes: a followed job in words. summary: the GitHub
step summary. rows: JSON, CSV and tables of a fetched response.

--json output has a stable shape whatever the terminal; the terminal decides decoration only.
rich is imported only by the parts that draw bars and tables. Every byte passes through
kjob.sanitize (secrets redacted, control characters made visible).
"""
