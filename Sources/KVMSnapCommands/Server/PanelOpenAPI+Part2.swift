import Foundation

extension PanelOpenAPI {
    /// Lines of the document (see ``PanelOpenAPI/document``).
    static let part2 = #"""
              "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "integer", "format": "int64", "minimum": 1}}],
              "get": {
                "operationId": "jobEvents", "summary": "The job's changes until it ends",
                "responses": {
                  "200": {
                    "description": "Server-sent events: `event: job` with a Job as `data` on each change of state or stage",
                    "content": {
                      "text/event-stream": {
                        "schema": {
                          "type": "object", "required": ["data"],
                          "properties": {
                            "event": {"type": "string", "enum": ["job", "error"]},
                            "data": {
                              "type": "string", "contentMediaType": "application/json",
                              "contentSchema": {"oneOf": [{"$ref": "#/components/schemas/Job"}, {"$ref": "#/components/schemas/Error"}]}
                            }
                          }
                        }
                      }
                    }
                  },
                  "400": {"description": "Error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                  "401": {"description": "Error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                  "404": {"description": "Error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
                }
              }
            },
            "/events": {
              "get": {
                "operationId": "events", "summary": "Changes of the 50 newest jobs (also those the CLI started)",
                "responses": {
                  "200": {
                    "description": "Server-sent events: `event: job` with a Job as `data` on each change of state or stage",
                    "content": {
                      "text/event-stream": {
                        "schema": {
                          "type": "object", "required": ["data"],
                          "properties": {
                            "event": {"type": "string", "enum": ["job", "error"]},
                            "data": {
                              "type": "string", "contentMediaType": "application/json",
                              "contentSchema": {"oneOf": [{"$ref": "#/components/schemas/Job"}, {"$ref": "#/components/schemas/Error"}]}
                            }
                          }
                        }
                      }
                    }
                  },
                  "401": {"description": "Error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
                }
              }
            }
          },
          "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}, "session": {"type": "apiKey", "in": "cookie", "name": "kvmsnap_session"}},
            "schemas": {
              "Error": {"type": "object", "properties": {"error": {"type": "string"}}, "required": ["error"]},
              "VM": {
                "type": "object", "required": ["name", "uuid", "state", "snapshots", "snapshotBytes"],
                "properties": {
                  "name": {"type": "string"}, "uuid": {"type": "string"}, "state": {"type": "string"}, "snapshots": {"type": "integer"},
                  "snapshotBytes": {"type": "integer", "format": "int64"}
                }
              },
              "Snapshot": {
                "type": "object",
                "required": [
                  "id", "name", "description", "kind", "parent", "createdAt", "hasMemory", "diskBytes", "memoryBytes", "pinned", "expiresAt",
                  "state", "labels", "guestPauseMs"
                ],
                "properties": {
                  "id": {"type": "string"}, "name": {"type": "string"}, "description": {"type": "string"},
                  "kind": {"type": "string", "enum": ["full", "incremental"]}, "parent": {"type": ["string", "null"]},
                  "createdAt": {"type": "string", "format": "date-time"}, "hasMemory": {"type": "boolean"},
                  "diskBytes": {"type": "integer", "format": "int64"}, "memoryBytes": {"type": "integer", "format": "int64"},
                  "pinned": {"type": "boolean"}, "expiresAt": {"type": ["string", "null"], "format": "date-time"}, "state": {"type": "string"},
                  "labels": {"type": "array", "items": {"type": "string"}}, "guestPauseMs": {"type": ["integer", "null"]},
                  "layers": {"type": "object", "additionalProperties": {"type": "string"}}
                }
              },
              "CreateRequest": {
                "type": "object", "required": ["name"],
                "properties": {
                  "name": {"type": "string", "minLength": 1, "maxLength": 64, "pattern": "^[^-/\\x00-\\x1f\\x7f][^/\\x00-\\x1f\\x7f]*$"},
                  "description": {"type": "string"}, "full": {"type": "boolean"}, "diskOnly": {"type": "boolean"},
                  "expires": {"type": "string", "description": "14d, 36h, 2w or YYYY-MM-DD"}, "pin": {"type": "boolean"}
                }
              },
              "EditRequest": {
                "type": "object",
                "properties": {
                  "name": {
                    "type": "string", "minLength": 1, "maxLength": 64, "pattern": "^[^-/\\x00-\\x1f\\x7f][^/\\x00-\\x1f\\x7f]*$",
                    "description": "rename to"
                  },
                  "description": {"type": "string"}, "expires": {"type": "string", "description": "14d, YYYY-MM-DD, or never"},
                  "pinned": {"type": "boolean"}
                }
              },
              "RestoreRequest": {
                "type": "object", "required": ["snapshot", "confirm"],
                "properties": {
                  "snapshot": {"type": "string", "minLength": 1, "maxLength": 64, "pattern": "^[^-/\\x00-\\x1f\\x7f][^/\\x00-\\x1f\\x7f]*$"},
                  "confirm": {"type": "string", "description": "exactly the VM's name, else 400 and nothing changes"},
                  "safetySnapshot": {"type": "boolean", "default": true},
                  "start": {"type": "string", "enum": ["running", "paused", "off"], "default": "running"}
                }
              },
              "Job": {
                "type": "object", "required": ["kind", "state", "startedAt"],
                "properties": {
                  "id": {"type": "integer", "format": "int64"}, "kind": {"type": "string"}, "vm": {"type": "string"}, "vmUUID": {"type": "string"},
                  "snapshot": {"type": "string"}, "state": {"type": "string", "enum": ["pending", "running", "succeeded", "failed"]},
                  "stage": {"type": "string"}, "startedAt": {"type": "string", "format": "date-time"},
                  "endedAt": {"type": "string", "format": "date-time"}, "durationSeconds": {"type": "number"}, "error": {"type": "string"},
                  "note": {"type": "string"}, "details": {"type": "string"}
                }
              },
              "PlanItem": {
                "type": "object", "required": ["vm", "name", "action", "reason", "reclaimBytes"],
                "properties": {
                  "vm": {"type": "string"}, "name": {"type": "string"}, "action": {"type": "string", "enum": ["keep", "prune", "leaveAlone"]},
                  "reason": {"type": ["string", "null"]}, "reclaimBytes": {"type": "integer", "format": "int64"}
                }
              },
              "Usage": {
                "type": "object", "required": ["vms", "totalBytes"],
                "properties": {
                  "totalBytes": {"type": "integer", "format": "int64"},
                  "vms": {
                    "type": "array",
                    "items": {
                      "type": "object",
                      "properties": {
                        "vm": {"type": "string"}, "uuid": {"type": "string"}, "snapshots": {"type": "integer"}, "memoryBytes": {"type": "integer"},
                        "layerBytes": {"type": "integer"}, "sharedBytes": {"type": "integer"}, "exclusiveBytes": {"type": "integer"}
                      }
                    }
                  }
                }
              },
              "Policy": {
                "type": "object",
                "properties": {
                  "vm": {"type": ["string", "null"]}, "source": {"type": ["string", "null"]},
                  "policy": {"oneOf": [{"$ref": "#/components/schemas/PolicyRules"}, {"type": "null"}]},
                  "updatedAt": {"type": ["string", "null"], "format": "date-time"}
                }
              },
              "PolicyRules": {
                "type": "object", "description": "The options of `policy set`; counts: 0 off, N periods, -1 unlimited",
                "properties": {
                  "keepWithin": {"type": ["string", "null"]}, "keepLast": {"type": "integer", "minimum": -1},
                  "keepHourly": {"type": "integer", "minimum": -1}, "keepDaily": {"type": "integer", "minimum": -1},
                  "keepWeekly": {"type": "integer", "minimum": -1}, "keepMonthly": {"type": "integer", "minimum": -1},
                  "keepYearly": {"type": "integer", "minimum": -1}, "fullEvery": {"type": ["integer", "null"], "minimum": 0},
                  "schedule": {"type": ["string", "null"]}, "quiesce": {"type": ["string", "null"], "enum": ["off", "auto", "required", null]},
                  "vault": {"type": ["string", "null"]},
                  "vaultKeep": {"type": "array", "items": {"type": "string"}, "description": "e.g. keep-daily 7"},
                  "drill": {"type": ["string", "null"]}
                }
              },
              "PruneRequest": {
                "type": "object", "required": ["confirm"],
                "properties": {"confirm": {"type": "string", "description": "exactly the VM's name, else 400 and nothing is deleted"}}
              },
              "SendRequest": {"type": "object", "required": ["snapshot", "vault"], "properties": {"snapshot": {"type": "string"}, "vault": {"type": "string"}}},
              "DrillRequest": {
                "type": "object", "description": "snapshot, or latest: true",
                "properties": {"snapshot": {"type": "string"}, "latest": {"type": "boolean"}}
              },
              "Vault": {
                "type": "object", "required": ["name", "location", "encrypted", "addedAt"],
                "properties": {
                  "name": {"type": "string"}, "location": {"type": "string"}, "encrypted": {"type": "boolean"}, "keyFile": {"type": "string"},
                  "addedAt": {"type": "string", "format": "date-time"}, "options": {"type": "object"}
                }
              },
              "VaultSnapshot": {
                "type": "object", "required": ["vm", "vmUUID", "snapshot", "createdAt", "kind", "logicalBytes", "storedBytes"],
                "properties": {
                  "vm": {"type": "string"}, "vmUUID": {"type": "string"}, "snapshot": {"type": "string"}, "host": {"type": "string"},
                  "hostID": {"type": ["string", "null"]}, "createdAt": {"type": "string", "format": "date-time"}, "kind": {"type": "string"},
                  "hasMemory": {"type": "boolean"}, "logicalBytes": {"type": "integer", "format": "int64"},
                  "storedBytes": {"type": "integer", "format": "int64"}, "baseSnapshot": {"type": ["string", "null"]}, "pinned": {"type": "boolean"}
                }
              },
              "Drill": {
                "type": "object",
                "required": ["id", "job", "vm", "vmUUID", "snapshot", "passed", "recoverySeconds", "checks", "startedAt", "endedAt"],
                "properties": {
                  "id": {"type": "integer", "format": "int64"}, "job": {"type": ["integer", "null"]}, "vm": {"type": "string"},
                  "vmUUID": {"type": "string"}, "snapshot": {"type": "string"}, "clone": {"type": "string"}, "passed": {"type": "boolean"},
                  "recoverySeconds": {"type": ["number", "null"]},
                  "checks": {
                    "type": "array",
                    "items": {
                      "type": "object",
                      "properties": {"name": {"type": "string"}, "passed": {"type": "boolean"}, "seconds": {"type": "number"}, "detail": {"type": "string"}}
                    }
                  },
                  "screenshot": {"type": ["string", "null"]}, "startedAt": {"type": "string", "format": "date-time"},
                  "endedAt": {"type": "string", "format": "date-time"}, "error": {"type": ["string", "null"]},
                  "markedVerified": {"type": "boolean"}, "keptClone": {"type": "boolean"}, "vault": {"type": ["string", "null"]}
                }
              }
            }
          }
        }

        """#
}
