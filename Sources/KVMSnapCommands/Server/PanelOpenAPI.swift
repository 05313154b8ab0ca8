import Foundation

/// The OpenAPI 3.1 document of `/api/v1`, served at `/api/v1/openapi.json`; docs/openapi.json is the
/// same text (a test holds them equal). Written by scripts/panel/openapi.py, in parts (PanelOpenAPI+Part*.swift).
enum PanelOpenAPI {
    static let document = part1 + part2
}
