#!/usr/bin/env python3
"""Fills a copy of the bench catalog with a branched, out-of-order history (scripts/bench.sh,
catalog_list_100k_branched_seconds).

    bench-branched-catalog.py CATALOG VM_UUID TEMPLATE_SNAPSHOT_NAME ROWS OTHER_VMS

VM_UUID gets ROWS snapshots, and OTHER_VMS synthetic VMs get ROWS snapshots between them. In
every VM the history branches like one reverted now and then (a new snapshot's parent is the
previous one, or in 1 of 5 cases an earlier one), ids are random, and the rows of all VMs are
inserted in one shuffled order, so neither rowid nor id order follows time or VM. Each row
copies the template snapshot's columns (its real configXML) and its disk rows.
"""
import random, sqlite3, sys
from datetime import datetime, timedelta

path, vm_uuid, template, rows, other_vms = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
rng = random.Random(11)
db = sqlite3.connect(path, isolation_level=None)   # one explicit transaction below
db.row_factory = sqlite3.Row
tmpl = dict(db.execute("SELECT * FROM snapshot WHERE vmUUID = ? AND name = ?", (vm_uuid, template)).fetchone())
disks = [dict(r) for r in db.execute("SELECT * FROM snapshotDisk WHERE snapshotID = ?", (tmpl["id"],))]
vm_row = dict(db.execute("SELECT * FROM vm WHERE uuid = ?", (vm_uuid,)).fetchone())
if not disks:
    sys.exit("template snapshot %s has no disk rows" % template)

db.execute("BEGIN")
vms = [(vm_uuid, rows)]
per_other = rows // other_vms if other_vms else 0
for n in range(other_vms):
    uuid = "00000000-0000-4000-8000-%012x" % n
    row = dict(vm_row, uuid=uuid, name="bench-other-%04d" % n, currentSnapshotID=None, labBaselineID=None)
    db.execute("INSERT INTO vm (%s) VALUES (%s)" % (",".join(row), ",".join("?" * len(row))), list(row.values()))
    vms.append((uuid, per_other))

start = datetime(2000, 1, 1)
snapshots = []
for uuid, count in vms:
    ids = []
    for k in range(count):
        sid = "s-%012x" % rng.getrandbits(48)
        parent = None if k == 0 else (ids[-1] if rng.random() < 0.8 else rng.choice(ids))
        ids.append(sid)
        created = (start + timedelta(hours=k, seconds=rng.randrange(3600))).strftime("%Y-%m-%d %H:%M:%S.000")
        snapshots.append(dict(tmpl, id=sid, vmUUID=uuid, name="bench-%07d" % k, description="synthetic row %d" % k,
                              kind="incremental", parentID=parent, createdAt=created, state="ready",
                              memoryPath=(tmpl["memoryPath"] or "") + ".%d" % k, jobID=None))
rng.shuffle(snapshots)
cols = list(tmpl)
db.executemany("INSERT INTO snapshot (%s) VALUES (%s)" % (",".join(cols), ",".join("?" * len(cols))),
               ([s[c] for c in cols] for s in snapshots))
db.executemany("INSERT INTO snapshotDisk (snapshotID, diskTarget, layerID) VALUES (?, ?, ?)",
               ((s["id"], d["diskTarget"], d["layerID"]) for s in snapshots for d in disks))
db.execute("COMMIT")
print(sum(1 for s in snapshots if s["vmUUID"] == vm_uuid))
