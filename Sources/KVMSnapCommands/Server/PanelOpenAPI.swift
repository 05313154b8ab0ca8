import Foundation

/// The OpenAPI 3.1 document of `/api/v1`, served at `/api/v1/openapi.json`; docs/openapi.json is the
/// same text (a test holds them equal).
enum PanelOpenAPI {
    static let document = #"""
        {
          "openapi": "3.1.0",
          "info": {
            "title": "kvmsnap panel API", "version": "1",
            "description": "The JSON of `kvmsnap ... --json` over HTTP. Send `Authorization: Bearer <token>`, or a session cookie and its X-CSRF-Token."
          },
          "servers": [{"url": "/api/v1"}], "security": [{"bearer": []}, {"session": []}],
          "paths": {
            "/health": {
              "get": {
                "operationId": "health", "security": [], "summary": "Liveness; needs no authentication and tells nothing else",
                "responses": {
                  "200": {
                    "description": "OK",
                    "content": {
                      "application/json": {"schema": {"type": "object", "properties": {"status": {"type": "string", "enum": ["ok"]}}, "required": ["status"]}}
                    }
                  }
                }
              }
            },
            "/openapi.json": {
              "get": {
                "operationId": "openapi", "summary": "This document",
                "responses": {
                  "200": {"description": "OK", "content": {"application/json": {"schema": {"type": "object"}}}},
                  "401": {"description": "Error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
                }
              }
            },
            "/vms": {
              "get": {
                "operationId": "listVMs", "summary": "`kvmsnap vms --json`",
                "responses": {
                  "200": {
                    "description": "OK",
                    "content": {"application/json": {"schema": {"type": "array", "items": {"$ref": "#/components/schemas/VM"}}}}
                  },
                  "401": {"description": "Error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                  "500": {"description": "Error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
                }
              }
            },
            "/vms/{vm}/snapshots": {
              "parameters": [
                {
                  "name": "vm", "in": "path", "required": true, "description": "VM name or UUID",
                  "schema": {"type": "string", "minLength": 1, "maxLength": 64, "pattern": "^[^-/\\x00-\\x1f\\x7f][^/\\x00-\\x1f\\x7f]*$"}
                }
              ],
              "get": {
                "operationId": "listSnapshots", "summary": "`kvmsnap list VM --json`",
                "responses": {
                  "200": {
                    "description": "OK",
                    "content": {"application/json": {"schema": {"type": "array", "items": {"$ref": "#/components/schemas/Snapshot"}}}}
                  },
                  "400": {"description": "Error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                  "401": {"description": "Error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                  "404": {"description": "Error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                  "500": {"description": "Error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
                }
              },
              "post": {
                "operationId": "createSnapshot", "summary": "`kvmsnap create VM --name ... --json`",
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/CreateRequest"}}}},
                "responses": {
                  "201": {"description": "Created", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Snapshot"}}}},
                  "400": {"description": "Error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                  "401": {"description": "Error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                  "403": {"description": "Error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                  "404": {"description": "Error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                  "409": {"description": "Error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                  "413": {"description": "Error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                  "500": {"description": "Error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
                }
              }
            },
            "/vms/{vm}/snapshots/{snapshot}": {
              "parameters": [
                {
                  "name": "vm", "in": "path", "required": true, "description": "VM name or UUID",
                  "schema": {"type": "string", "minLength": 1, "maxLength": 64, "pattern": "^[^-/\\x00-\\x1f\\x7f][^/\\x00-\\x1f\\x7f]*$"}
                },
                {
                  "name": "snapshot", "in": "path", "required": true, "description": "Snapshot name",
                  "schema": {"type": "string", "minLength": 1, "maxLength": 64, "pattern": "^[^-/\\x00-\\x1f\\x7f][^/\\x00-\\x1f\\x7f]*$"}
                }
              ],
              "patch": {
                "operationId": "editSnapshot", "summary": "`kvmsnap rename` / `kvmsnap edit`",
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/EditRequest"}}}},
                "responses": {
                  "200": {"description": "OK", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Snapshot"}}}},
                  "400": {"description": "Error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                  "401": {"description": "Error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                  "403": {"description": "Error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                  "404": {"description": "Error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                  "409": {"description": "Error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                  "413": {"description": "Error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                  "500": {"description": "Error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
                }
              },
              "delete": {
                "operationId": "deleteSnapshot", "summary": "`kvmsnap delete VM SNAP --yes`",
                "responses": {
                  "204": {"description": "Deleted"},
                  "400": {"description": "Error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                  "401": {"description": "Error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                  "403": {"description": "Error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                  "404": {"description": "Error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                  "409": {"description": "Error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                  "413": {"description": "Error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                  "500": {"description": "Error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
                }
              }
            },
            "/vms/{vm}/restore": {
              "parameters": [
                {
                  "name": "vm", "in": "path", "required": true, "description": "VM name or UUID",
                  "schema": {"type": "string", "minLength": 1, "maxLength": 64, "pattern": "^[^-/\\x00-\\x1f\\x7f][^/\\x00-\\x1f\\x7f]*$"}
                }
              ],
              "post": {
                "operationId": "restore", "summary": "`kvmsnap restore VM SNAP --confirm VM`, as a background job",
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/RestoreRequest"}}}},
                "responses": {
                  "202": {
                    "description": "Started",
                    "content": {
                      "application/json": {"schema": {"type": "object", "properties": {"job": {"type": "integer", "format": "int64"}}, "required": ["job"]}}
                    }
                  },
                  "400": {"description": "Error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                  "401": {"description": "Error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                  "403": {"description": "Error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                  "404": {"description": "Error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                  "409": {"description": "Error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                  "413": {"description": "Error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                  "500": {"description": "Error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
                }
              }
            },
            "/vms/{vm}/policy": {
              "parameters": [
                {
                  "name": "vm", "in": "path", "required": true, "description": "VM name or UUID",
                  "schema": {"type": "string", "minLength": 1, "maxLength": 64, "pattern": "^[^-/\\x00-\\x1f\\x7f][^/\\x00-\\x1f\\x7f]*$"}
                }
              ],
              "get": {
                "operationId": "policy", "summary": "`kvmsnap policy show VM --json`",
                "responses": {
                  "200": {"description": "OK", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Policy"}}}},
                  "400": {"description": "Error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                  "401": {"description": "Error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                  "404": {"description": "Error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                  "500": {"description": "Error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
                }
              }
            },
            "/vms/{vm}/retention/preview": {
              "parameters": [
                {
                  "name": "vm", "in": "path", "required": true, "description": "VM name or UUID",
                  "schema": {"type": "string", "minLength": 1, "maxLength": 64, "pattern": "^[^-/\\x00-\\x1f\\x7f][^/\\x00-\\x1f\\x7f]*$"}
                }
              ],
              "get": {
                "operationId": "retentionPreview",
                "summary": "`kvmsnap prune VM --dry-run --json` (the VM's policy when no rule is given); deletes nothing",
                "parameters": [
                  {"name": "keep-within", "in": "query", "required": false, "schema": {"type": "string"}},
                  {"name": "keep-last", "in": "query", "required": false, "schema": {"type": "integer", "minimum": -1}},
                  {"name": "keep-hourly", "in": "query", "required": false, "schema": {"type": "integer", "minimum": -1}},
                  {"name": "keep-daily", "in": "query", "required": false, "schema": {"type": "integer", "minimum": -1}},
                  {"name": "keep-weekly", "in": "query", "required": false, "schema": {"type": "integer", "minimum": -1}},
                  {"name": "keep-monthly", "in": "query", "required": false, "schema": {"type": "integer", "minimum": -1}},
                  {"name": "keep-yearly", "in": "query", "required": false, "schema": {"type": "integer", "minimum": -1}}
                ],
                "responses": {
                  "200": {
                    "description": "OK",
                    "content": {"application/json": {"schema": {"type": "array", "items": {"$ref": "#/components/schemas/PlanItem"}}}}
                  },
                  "400": {"description": "Error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                  "401": {"description": "Error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                  "404": {"description": "Error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                  "500": {"description": "Error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
                }
              }
            },
            "/usage": {
              "get": {
                "operationId": "usage", "summary": "`kvmsnap usage --json`",
                "responses": {
                  "200": {"description": "OK", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Usage"}}}},
                  "401": {"description": "Error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                  "500": {"description": "Error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
                }
              }
            },
            "/jobs": {
              "get": {
                "operationId": "listJobs", "summary": "`kvmsnap jobs --json`",
                "responses": {
                  "200": {
                    "description": "OK",
                    "content": {"application/json": {"schema": {"type": "array", "items": {"$ref": "#/components/schemas/Job"}}}}
                  },
                  "401": {"description": "Error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                  "500": {"description": "Error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
                }
              }
            },
            "/jobs/{id}": {
              "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "integer", "format": "int64", "minimum": 1}}],
              "get": {
                "operationId": "job", "summary": "One job of the journal",
                "responses": {
                  "200": {"description": "OK", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Job"}}}},
                  "400": {"description": "Error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                  "401": {"description": "Error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                  "404": {"description": "Error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
                }
              }
            },
            "/jobs/{id}/events": {
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
                  "vm": {"type": ["string", "null"]}, "source": {"type": ["string", "null"]}, "policy": {"type": ["object", "null"]},
                  "updatedAt": {"type": ["string", "null"], "format": "date-time"}
                }
              }
            }
          }
        }

        """#
}
