#!/usr/bin/env python3
# Writes the panel's OpenAPI document: docs/openapi.json and the same text as
# Sources/KVMSnapCommands/Server/PanelOpenAPI+Part*.swift, joined by PanelOpenAPI.swift (served at /api/v1/openapi.json; a test holds them equal).
# Run from the repository root after changing the API: python3 scripts/panel/openapi.py
import json
def ref(n): return {"$ref": "#/components/schemas/" + n}
def js(schema, desc="OK"): return {"description": desc, "content": {"application/json": {"schema": schema}}}
err = {"description": "Error", "content": {"application/json": {"schema": ref("Error")}}}
std = {"400": err, "401": err, "403": err, "404": err, "409": err, "413": err, "500": err}
def errs(*codes): return {c: err for c in codes}
# What NameRules accepts, as far as a pattern says it: 1 to 64 characters, no '/', no control
# character, not starting with '-' (also refused, with 400: '.', '..', only whitespace, bidi controls).
name_schema = {"type": "string", "minLength": 1, "maxLength": 64, "pattern": "^[^-/\\x00-\\x1f\\x7f][^/\\x00-\\x1f\\x7f]*$"}
vm = {"name": "vm", "in": "path", "required": True, "description": "VM name or UUID", "schema": name_schema}
snap = {"name": "snapshot", "in": "path", "required": True, "description": "Snapshot name", "schema": name_schema}
jobid = {"name": "id", "in": "path", "required": True, "schema": {"type": "integer", "format": "int64", "minimum": 1}}
def keep(n, t="integer"): return {"name": n, "in": "query", "required": False, "schema": {"type": t} if t == "string" else {"type": "integer", "minimum": -1}}
nullable = lambda t: {"type": [t, "null"]}
vaultp = {"name": "vault", "in": "path", "required": True, "description": "Vault name (vault list)", "schema": {"type": "string", "maxLength": 64}}
started = js({"type": "object", "properties": {"job": {"type": "integer", "format": "int64"}}, "required": ["job"]}, "Started")
# Each event (OpenAPI 3.1: the schema of an event stream describes one event): `event: job` with a
# Job as JSON in `data` on each change of state or stage; `event: error` if the job disappears.
sse = {"description": "Server-sent events: `event: job` with a Job as `data` on each change of state or stage",
       "content": {"text/event-stream": {"schema": {"type": "object", "required": ["data"], "properties": {
         "event": {"type": "string", "enum": ["job", "error"]},
         "data": {"type": "string", "contentMediaType": "application/json", "contentSchema": {"oneOf": [ref("Job"), ref("Error")]}}}}}}}
doc = {
 "openapi": "3.1.0",
 "info": {"title": "kvmsnap panel API", "version": "1",
          "description": "The JSON of `kvmsnap ... --json` over HTTP. Send `Authorization: Bearer <token>`, or a session cookie and its X-CSRF-Token."},
 "servers": [{"url": "/api/v1"}],
 "security": [{"bearer": []}, {"session": []}],
 "paths": {
  "/health": {"get": {"operationId": "health", "security": [], "summary": "Liveness; needs no authentication and tells nothing else",
                      "responses": {"200": js({"type": "object", "properties": {"status": {"type": "string", "enum": ["ok"]}}, "required": ["status"]})}}},
  "/openapi.json": {"get": {"operationId": "openapi", "summary": "This document", "responses": {"200": js({"type": "object"}), "401": err}}},
  "/vms": {"get": {"operationId": "listVMs", "summary": "`kvmsnap vms --json`", "responses": {"200": js({"type": "array", "items": ref("VM")}), **errs("401", "500")}}},
  "/vms/{vm}/snapshots": {
    "parameters": [vm],
    "get": {"operationId": "listSnapshots", "summary": "`kvmsnap list VM --json`", "responses": {"200": js({"type": "array", "items": ref("Snapshot")}), **errs("400", "401", "404", "500")}},
    "post": {"operationId": "createSnapshot", "summary": "`kvmsnap create VM --name ... --json`",
             "requestBody": {"required": True, "content": {"application/json": {"schema": ref("CreateRequest")}}},
             "responses": {"201": js(ref("Snapshot"), "Created"), **std}}},
  "/vms/{vm}/snapshots/{snapshot}": {
    "parameters": [vm, snap],
    "patch": {"operationId": "editSnapshot", "summary": "`kvmsnap rename` / `kvmsnap edit`",
              "requestBody": {"required": True, "content": {"application/json": {"schema": ref("EditRequest")}}},
              "responses": {"200": js(ref("Snapshot")), **std}},
    "delete": {"operationId": "deleteSnapshot", "summary": "`kvmsnap delete VM SNAP --yes`", "responses": {"204": {"description": "Deleted"}, **std}}},
  "/vms/{vm}/restore": {"parameters": [vm], "post": {
    "operationId": "restore", "summary": "`kvmsnap restore VM SNAP --confirm VM`, as a background job",
    "requestBody": {"required": True, "content": {"application/json": {"schema": ref("RestoreRequest")}}},
    "responses": {"202": started, **std}}},
  "/vms/{vm}/policy": {"parameters": [vm], "get": {"operationId": "policy", "summary": "`kvmsnap policy show VM --json`",
    "responses": {"200": js(ref("Policy")), **errs("400", "401", "404", "500")}},
    "put": {"operationId": "setPolicy", "summary": "`kvmsnap policy set VM ... --json`: replaces the VM's own policy; refused (400) as policy set refuses",
            "requestBody": {"required": True, "content": {"application/json": {"schema": ref("PolicyRules")}}},
            "responses": {"200": js(ref("Policy")), **std}}},
  "/vms/{vm}/prune": {"parameters": [vm], "post": {
    "operationId": "prune", "summary": "`kvmsnap prune VM` with the VM's stored policy, as a background job (its `details`: planned and deleted snapshots)",
    "requestBody": {"required": True, "content": {"application/json": {"schema": ref("PruneRequest")}}},
    "responses": {"202": started, **std}}},
  "/vms/{vm}/send": {"parameters": [vm], "post": {
    "operationId": "send", "summary": "`kvmsnap send VM SNAP --to VAULT`, as a background job",
    "requestBody": {"required": True, "content": {"application/json": {"schema": ref("SendRequest")}}},
    "responses": {"202": started, **std}}},
  "/vms/{vm}/drill": {"parameters": [vm], "post": {
    "operationId": "drill", "summary": "`kvmsnap drill VM SNAP` (or `--latest`) with the default checks, as a background job; the report is in /drills",
    "requestBody": {"required": True, "content": {"application/json": {"schema": ref("DrillRequest")}}},
    "responses": {"202": started, **std}}},
  "/vaults": {"get": {"operationId": "listVaults", "summary": "`kvmsnap vault list --json`",
    "responses": {"200": js({"type": "array", "items": ref("Vault")}), **errs("401", "500")}}},
  "/vaults/{vault}/snapshots": {"parameters": [vaultp], "get": {
    "operationId": "vaultSnapshots", "summary": "`kvmsnap vault snapshots VAULT [VM] --json`",
    "parameters": [{"name": "vm", "in": "query", "required": False, "schema": {"type": "string"}}],
    "responses": {"200": js({"type": "array", "items": ref("VaultSnapshot")}), **errs("400", "401", "404", "500")}}},
  "/drills": {"get": {"operationId": "drillReports", "summary": "`kvmsnap drill report [VM] --limit N --json`, newest first",
    "parameters": [{"name": "vm", "in": "query", "required": False, "schema": {"type": "string"}},
                   {"name": "limit", "in": "query", "required": False, "schema": {"type": "integer", "minimum": 1, "default": 20}}],
    "responses": {"200": js({"type": "array", "items": ref("Drill")}), **errs("400", "401", "500")}}},
  "/vms/{vm}/retention/preview": {"parameters": [vm], "get": {
    "operationId": "retentionPreview", "summary": "`kvmsnap prune VM --dry-run --json` (the VM's policy when no rule is given); deletes nothing",
    "parameters": [keep("keep-within", "string"), keep("keep-last"), keep("keep-hourly"), keep("keep-daily"), keep("keep-weekly"), keep("keep-monthly"), keep("keep-yearly")],
    "responses": {"200": js({"type": "array", "items": ref("PlanItem")}), **errs("400", "401", "404", "500")}}},
  "/usage": {"get": {"operationId": "usage", "summary": "`kvmsnap usage --json`", "responses": {"200": js(ref("Usage")), **errs("401", "500")}}},
  "/jobs": {"get": {"operationId": "listJobs", "summary": "`kvmsnap jobs --json`", "responses": {"200": js({"type": "array", "items": ref("Job")}), **errs("401", "500")}}},
  "/jobs/{id}": {"parameters": [jobid], "get": {"operationId": "job", "summary": "One job of the journal", "responses": {"200": js(ref("Job")), **errs("400", "401", "404")}}},
  "/jobs/{id}/events": {"parameters": [jobid], "get": {"operationId": "jobEvents", "summary": "The job's changes until it ends", "responses": {"200": sse, **errs("400", "401", "404")}}},
  "/events": {"get": {"operationId": "events", "summary": "Changes of the 50 newest jobs (also those the CLI started)", "responses": {"200": sse, "401": err}}},
 },
 "components": {
  "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}, "session": {"type": "apiKey", "in": "cookie", "name": "kvmsnap_session"}},
  "schemas": {
   "Error": {"type": "object", "properties": {"error": {"type": "string"}}, "required": ["error"]},
   "VM": {"type": "object", "required": ["name", "uuid", "state", "snapshots", "snapshotBytes"], "properties": {
     "name": {"type": "string"}, "uuid": {"type": "string"}, "state": {"type": "string"}, "snapshots": {"type": "integer"}, "snapshotBytes": {"type": "integer", "format": "int64"}}},
   "Snapshot": {"type": "object", "required": ["id", "name", "description", "kind", "parent", "createdAt", "hasMemory", "diskBytes", "memoryBytes", "pinned", "expiresAt", "state", "labels", "guestPauseMs"],
     "properties": {"id": {"type": "string"}, "name": {"type": "string"}, "description": {"type": "string"}, "kind": {"type": "string", "enum": ["full", "incremental"]},
       "parent": nullable("string"), "createdAt": {"type": "string", "format": "date-time"}, "hasMemory": {"type": "boolean"},
       "diskBytes": {"type": "integer", "format": "int64"}, "memoryBytes": {"type": "integer", "format": "int64"}, "pinned": {"type": "boolean"},
       "expiresAt": {"type": ["string", "null"], "format": "date-time"}, "state": {"type": "string"}, "labels": {"type": "array", "items": {"type": "string"}},
       "guestPauseMs": nullable("integer"), "layers": {"type": "object", "additionalProperties": {"type": "string"}}}},
   "CreateRequest": {"type": "object", "required": ["name"], "properties": {"name": name_schema,
     "description": {"type": "string"}, "full": {"type": "boolean"}, "diskOnly": {"type": "boolean"},
     "expires": {"type": "string", "description": "14d, 36h, 2w or YYYY-MM-DD"}, "pin": {"type": "boolean"}}},
   "EditRequest": {"type": "object", "properties": {"name": {**name_schema, "description": "rename to"}, "description": {"type": "string"},
     "expires": {"type": "string", "description": "14d, YYYY-MM-DD, or never"}, "pinned": {"type": "boolean"}}},
   "RestoreRequest": {"type": "object", "required": ["snapshot", "confirm"], "properties": {"snapshot": name_schema,
     "confirm": {"type": "string", "description": "exactly the VM's name, else 400 and nothing changes"},
     "safetySnapshot": {"type": "boolean", "default": True}, "start": {"type": "string", "enum": ["running", "paused", "off"], "default": "running"}}},
   "Job": {"type": "object", "required": ["kind", "state", "startedAt"], "properties": {"id": {"type": "integer", "format": "int64"}, "kind": {"type": "string"},
     "vm": {"type": "string"}, "vmUUID": {"type": "string"}, "snapshot": {"type": "string"}, "state": {"type": "string", "enum": ["pending", "running", "succeeded", "failed"]},
     "stage": {"type": "string"}, "startedAt": {"type": "string", "format": "date-time"}, "endedAt": {"type": "string", "format": "date-time"},
     "durationSeconds": {"type": "number"}, "error": {"type": "string"}, "note": {"type": "string"}, "details": {"type": "string"}}},
   "PlanItem": {"type": "object", "required": ["vm", "name", "action", "reason", "reclaimBytes"], "properties": {"vm": {"type": "string"}, "name": {"type": "string"},
     "action": {"type": "string", "enum": ["keep", "prune", "leaveAlone"]}, "reason": nullable("string"), "reclaimBytes": {"type": "integer", "format": "int64"}}},
   "Usage": {"type": "object", "required": ["vms", "totalBytes"], "properties": {"totalBytes": {"type": "integer", "format": "int64"},
     "vms": {"type": "array", "items": {"type": "object", "properties": {"vm": {"type": "string"}, "uuid": {"type": "string"}, "snapshots": {"type": "integer"},
       "memoryBytes": {"type": "integer"}, "layerBytes": {"type": "integer"}, "sharedBytes": {"type": "integer"}, "exclusiveBytes": {"type": "integer"}}}}}},
   "Policy": {"type": "object", "properties": {"vm": nullable("string"), "source": nullable("string"), "policy": {"oneOf": [ref("PolicyRules"), {"type": "null"}]},
     "updatedAt": {"type": ["string", "null"], "format": "date-time"}}},
   "PolicyRules": {"type": "object", "description": "The options of `policy set`; counts: 0 off, N periods, -1 unlimited", "properties": {
     "keepWithin": nullable("string"), **{k: {"type": "integer", "minimum": -1} for k in ["keepLast", "keepHourly", "keepDaily", "keepWeekly", "keepMonthly", "keepYearly"]},
     "fullEvery": {"type": ["integer", "null"], "minimum": 0}, "schedule": nullable("string"), "quiesce": {"type": ["string", "null"], "enum": ["off", "auto", "required", None]},
     "vault": nullable("string"), "vaultKeep": {"type": "array", "items": {"type": "string"}, "description": "e.g. keep-daily 7"}, "drill": nullable("string")}},
   "PruneRequest": {"type": "object", "required": ["confirm"], "properties": {
     "confirm": {"type": "string", "description": "exactly the VM's name, else 400 and nothing is deleted"}}},
   "SendRequest": {"type": "object", "required": ["snapshot", "vault"], "properties": {"snapshot": {"type": "string"}, "vault": {"type": "string"}}},
   "DrillRequest": {"type": "object", "description": "snapshot, or latest: true", "properties": {"snapshot": {"type": "string"}, "latest": {"type": "boolean"}}},
   "Vault": {"type": "object", "required": ["name", "location", "encrypted", "addedAt"], "properties": {"name": {"type": "string"}, "location": {"type": "string"},
     "encrypted": {"type": "boolean"}, "keyFile": {"type": "string"}, "addedAt": {"type": "string", "format": "date-time"}, "options": {"type": "object"}}},
   "VaultSnapshot": {"type": "object", "required": ["vm", "vmUUID", "snapshot", "createdAt", "kind", "logicalBytes", "storedBytes"], "properties": {
     "vm": {"type": "string"}, "vmUUID": {"type": "string"}, "snapshot": {"type": "string"}, "host": {"type": "string"}, "hostID": nullable("string"),
     "createdAt": {"type": "string", "format": "date-time"}, "kind": {"type": "string"}, "hasMemory": {"type": "boolean"},
     "logicalBytes": {"type": "integer", "format": "int64"}, "storedBytes": {"type": "integer", "format": "int64"}, "baseSnapshot": nullable("string"),
     "pinned": {"type": "boolean"}}},
   "Drill": {"type": "object", "required": ["id", "job", "vm", "vmUUID", "snapshot", "passed", "recoverySeconds", "checks", "startedAt", "endedAt"], "properties": {
     "id": {"type": "integer", "format": "int64"}, "job": nullable("integer"), "vm": {"type": "string"}, "vmUUID": {"type": "string"}, "snapshot": {"type": "string"},
     "clone": {"type": "string"}, "passed": {"type": "boolean"}, "recoverySeconds": nullable("number"),
     "checks": {"type": "array", "items": {"type": "object", "properties": {"name": {"type": "string"}, "passed": {"type": "boolean"},
       "seconds": {"type": "number"}, "detail": {"type": "string"}}}},
     "screenshot": nullable("string"), "startedAt": {"type": "string", "format": "date-time"}, "endedAt": {"type": "string", "format": "date-time"},
     "error": nullable("string"), "markedVerified": {"type": "boolean"}, "keptClone": {"type": "boolean"}, "vault": nullable("string")}},
  }}}
def fmt(v, ind=0):
    one = json.dumps(v, ensure_ascii=False)
    if len(one) + ind <= 140 or not isinstance(v, (dict, list)) or not v: return one
    pad = ' ' * (ind + 2)
    if isinstance(v, dict):
        parts = [json.dumps(k, ensure_ascii=False) + ': ' + fmt(x, ind + 2) for k, x in v.items()]
        open_, close = '{', '}'
    else:
        parts = [fmt(x, ind + 2) for x in v]
        open_, close = '[', ']'
    lines, cur = [], ''
    for i, p in enumerate(parts):
        p = p + (',' if i < len(parts) - 1 else '')
        if '\n' in p:
            if cur: lines.append(cur); cur = ''
            lines.append(pad + p)
        elif cur and len(cur) + 1 + len(p) <= 140:
            cur += ' ' + p
        else:
            if cur: lines.append(cur)
            cur = pad + p
    if cur: lines.append(cur)
    return open_ + '\n' + '\n'.join(lines) + '\n' + ' ' * ind + close
text = fmt(doc) + "\n"
open('docs/openapi.json', 'w').write(text)
assert '"""#' not in text
# The Swift text, in parts of at most 380 lines (files stay under 400): PanelOpenAPI.swift joins them.
doc_lines = text.rstrip('\n').split('\n')
parts = [doc_lines[i:i + 380] for i in range(0, len(doc_lines), 380)]
names = ['part%d' % (i + 1) for i in range(len(parts))]
head = ['import Foundation', '', '/// The OpenAPI 3.1 document of `/api/v1`, served at `/api/v1/openapi.json`; docs/openapi.json is the',
        '/// same text (a test holds them equal). Written by scripts/panel/openapi.py, in parts (PanelOpenAPI+Part*.swift).',
        'enum PanelOpenAPI {', '    static let document = ' + ' + '.join(names), '}']
open('Sources/KVMSnapCommands/Server/PanelOpenAPI.swift', 'w').write('\n'.join(head) + '\n')
import glob, os
for old in glob.glob('Sources/KVMSnapCommands/Server/PanelOpenAPI+Part*.swift'):
    os.remove(old)
for name, part in zip(names, parts):
    lines = ['import Foundation', '', 'extension PanelOpenAPI {', '    /// Lines of the document (see ``PanelOpenAPI/document``).', '    static let %s = #"""' % name]
    lines += ['        ' + l for l in part]
    lines += ['', '        """#', '}']
    assert max(len(l) for l in lines) <= 160, 'a line is over 160 characters'
    open('Sources/KVMSnapCommands/Server/PanelOpenAPI+Part%s.swift' % name[4:], 'w').write('\n'.join(lines) + '\n')
