import Foundation

extension PanelOpenAPI {
    /// Lines of the document (see ``PanelOpenAPI/document``).
    static let part1 = #"""
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
              },
              "put": {
                "operationId": "setPolicy",
                "summary": "`kvmsnap policy set VM ... --json`: replaces the VM's own policy; refused (400) as policy set refuses",
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/PolicyRules"}}}},
                "responses": {
                  "200": {"description": "OK", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Policy"}}}},
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
            "/vms/{vm}/prune": {
              "parameters": [
                {
                  "name": "vm", "in": "path", "required": true, "description": "VM name or UUID",
                  "schema": {"type": "string", "minLength": 1, "maxLength": 64, "pattern": "^[^-/\\x00-\\x1f\\x7f][^/\\x00-\\x1f\\x7f]*$"}
                }
              ],
              "post": {
                "operationId": "prune",
                "summary": "`kvmsnap prune VM` with the VM's stored policy, as a background job (its `details`: planned and deleted snapshots)",
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/PruneRequest"}}}},
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
            "/vms/{vm}/send": {
              "parameters": [
                {
                  "name": "vm", "in": "path", "required": true, "description": "VM name or UUID",
                  "schema": {"type": "string", "minLength": 1, "maxLength": 64, "pattern": "^[^-/\\x00-\\x1f\\x7f][^/\\x00-\\x1f\\x7f]*$"}
                }
              ],
              "post": {
                "operationId": "send", "summary": "`kvmsnap send VM SNAP --to VAULT`, as a background job",
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/SendRequest"}}}},
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
            "/vms/{vm}/drill": {
              "parameters": [
                {
                  "name": "vm", "in": "path", "required": true, "description": "VM name or UUID",
                  "schema": {"type": "string", "minLength": 1, "maxLength": 64, "pattern": "^[^-/\\x00-\\x1f\\x7f][^/\\x00-\\x1f\\x7f]*$"}
                }
              ],
              "post": {
                "operationId": "drill",
                "summary": "`kvmsnap drill VM SNAP` (or `--latest`) with the default checks, as a background job; the report is in /drills",
                "requestBody": {"required": true, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/DrillRequest"}}}},
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
            "/vaults": {
              "get": {
                "operationId": "listVaults", "summary": "`kvmsnap vault list --json`",
                "responses": {
                  "200": {
                    "description": "OK",
                    "content": {"application/json": {"schema": {"type": "array", "items": {"$ref": "#/components/schemas/Vault"}}}}
                  },
                  "401": {"description": "Error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                  "500": {"description": "Error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
                }
              }
            },
            "/vaults/{vault}/snapshots": {
              "parameters": [
                {
                  "name": "vault", "in": "path", "required": true, "description": "Vault name (vault list)",
                  "schema": {"type": "string", "maxLength": 64}
                }
              ],
              "get": {
                "operationId": "vaultSnapshots", "summary": "`kvmsnap vault snapshots VAULT [VM] --json`",
                "parameters": [{"name": "vm", "in": "query", "required": false, "schema": {"type": "string"}}],
                "responses": {
                  "200": {
                    "description": "OK",
                    "content": {"application/json": {"schema": {"type": "array", "items": {"$ref": "#/components/schemas/VaultSnapshot"}}}}
                  },
                  "400": {"description": "Error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                  "401": {"description": "Error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                  "404": {"description": "Error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                  "500": {"description": "Error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
                }
              }
            },
            "/drills": {
              "get": {
                "operationId": "drillReports", "summary": "`kvmsnap drill report [VM] --limit N --json`, newest first",
                "parameters": [
                  {"name": "vm", "in": "query", "required": false, "schema": {"type": "string"}},
                  {"name": "limit", "in": "query", "required": false, "schema": {"type": "integer", "minimum": 1, "default": 20}}
                ],
                "responses": {
                  "200": {
                    "description": "OK",
                    "content": {"application/json": {"schema": {"type": "array", "items": {"$ref": "#/components/schemas/Drill"}}}}
                  },
                  "400": {"description": "Error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
                  "401": {"description": "Error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}},
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

        """#
}
