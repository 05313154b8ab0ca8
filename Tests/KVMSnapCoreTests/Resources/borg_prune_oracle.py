#!/usr/bin/python3
"""Oracle for kvmsnap's retention planner: runs borg 1.2's OWN prune planning.

Reads a JSON array of cases on stdin, writes a JSON array of results on stdout.

Case:  {"tz": "Europe/Berlin", "now_us": <int, µs since epoch>,
        "within": "7d" | null,              # parsed by borg's own `interval()`
        "rules": {"secondly": 3, "hourly": 0, "daily": -1, ...},   # borg rule names
        "archives": [{"name": "a", "ts_us": <int>}, ...]}          # manifest (insertion) order
Result: {"kept": {"<name>": ["daily", 3], ...}}   # borg's kept_because (rule, number)

It mirrors borg/archiver.py do_prune step by step (without checkpoints): the archives go into a
real borg `Archives` manifest in the given order, are listed with
`list(sort_by=['ts'], reverse=True)`, then `prune_within` and `prune_split` for every rule of
`PRUNING_PATTERNS` in order, exactly like do_prune. Local time is borg's own `to_localtime`
(time.localtime) under TZ=<tz>. `datetime.now` inside prune_within is pinned to `now_us`.
"""
import json
import os
import sys
import time

try:
    import borg
    from borg.helpers import misc
    from borg.helpers import prune_within, prune_split, PRUNING_PATTERNS, interval
    from borg.helpers.manifest import Archives
except Exception as e:  # pragma: no cover
    sys.stderr.write("borg_prune_oracle: cannot import borg (%s). Install borgbackup 1.2 "
                     "(apt-get install borgbackup; scripts/host-setup.sh installs it).\n" % e)
    sys.exit(3)

if not borg.__version__.startswith("1.2."):
    sys.stderr.write("borg_prune_oracle: need borg 1.2.x, found %s\n" % borg.__version__)
    sys.exit(3)

from datetime import datetime, timedelta, timezone

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_real_datetime = misc.datetime


def run_case(case):
    os.environ["TZ"] = case["tz"]
    time.tzset()
    now = EPOCH + timedelta(microseconds=case["now_us"])

    class FixedNow(_real_datetime):
        @classmethod
        def now(cls, tz=None):
            return now if tz is not None else now.replace(tzinfo=None)

    misc.datetime = FixedNow
    try:
        manifest = Archives()
        for a in case["archives"]:
            ts = EPOCH + timedelta(microseconds=a["ts_us"])
            manifest[a["name"]] = (a["name"].encode(), ts)
        archives = manifest.list(sort_by=["ts"], reverse=True)
        # Archives.list parses the stored ISO string back as UTC (parse_timestamp), like borg.
        keep = []
        kept_because = {}
        if case.get("within"):
            keep += prune_within(archives, interval(case["within"]), kept_because)
        rules = case.get("rules", {})
        for rule in PRUNING_PATTERNS.keys():
            num = rules.get(rule)
            if num is not None:
                keep += prune_split(archives, rule, num, kept_because)
        kept = {}
        for a in keep:
            r, n = kept_because[a.id]
            kept[a.name] = [r, n]
        return {"kept": kept, "borg": borg.__version__}
    finally:
        misc.datetime = _real_datetime


def main():
    cases = json.load(sys.stdin)
    json.dump([run_case(c) for c in cases], sys.stdout)


if __name__ == "__main__":
    main()
