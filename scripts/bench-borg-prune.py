#!/usr/bin/python3
"""borg 1.2's own retention planning, timed, for scripts/bench.sh.

Builds the same synthetic timeline as `kvmsnap retention bench` (snapshot i at START + i*STEP
seconds, UTC) as borg ArchiveInfo tuples, newest first (like do_prune's manifest listing), then
times ONLY the prune_split calls (every rule with a count, in PRUNING_PATTERNS order, exactly
like borg's do_prune). Timeline construction is not timed. TZ is forced to UTC on both sides.

usage: bench-borg-prune.py COUNT STEP START REPEATS daily=7 weekly=4 monthly=12 yearly=5
prints: [{"seconds": S, "kept": K, "count": N}, ...]  (one entry per repeat)
"""
import json
import os
import sys
import time

os.environ["TZ"] = "UTC"
time.tzset()

import borg
from borg.helpers import prune_split, PRUNING_PATTERNS
from borg.helpers.manifest import ArchiveInfo
from datetime import datetime, timedelta, timezone

if not borg.__version__.startswith("1.2."):
    sys.exit("need borg 1.2.x, found %s" % borg.__version__)

count, step, start, repeats = (int(x) for x in sys.argv[1:5])
rules = dict(arg.split("=") for arg in sys.argv[5:])
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
archives = [ArchiveInfo(name="s%d" % i, id=("s%d" % i).encode(), ts=EPOCH + timedelta(seconds=start + i * step))
            for i in range(count)]
archives.reverse()  # newest first, as Archives.list(sort_by=['ts'], reverse=True) gives do_prune

runs = []
for _ in range(repeats):
    kept_because = {}
    keep = []
    t0 = time.monotonic()
    for rule in PRUNING_PATTERNS.keys():
        if rule in rules:
            keep += prune_split(archives, rule, int(rules[rule]), kept_because)
    seconds = time.monotonic() - t0
    runs.append({"seconds": seconds, "kept": len(keep), "count": count})
print(json.dumps(runs))
