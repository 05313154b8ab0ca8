import Foundation
import Testing

@testable import KVMSnapCore

@Suite("timeline JSON codec")
struct TimelineTests {
    @Test func decodesAnyOrderAndTimestampForms() throws {
        let json = #"""
            [
              {"name": "b", "createdAt": "2024-03-31T03:30:00+02:00", "pinned": true},
              {"name": "a", "createdAt": "2024-03-31T01:00:00.250Z", "expiresAt": "2025-01-01T00:00:00Z"},
              {"name": "c", "createdAt": "2024-03-31T01:00:00.123456-0130", "expiresAt": null, "pinned": false},
              {"name": "d", "createdAt": "2024-03-31 01:00:00z", "state": "failed", "id": "uuid-d"}
            ]
            """#
        let c = try Timeline.decode(Data(json.utf8))
        #expect(c.map(\.name) == ["b", "a", "c", "d"])
        #expect(c[0].createdAt == utc("2024-03-31T01:30:00Z") && c[0].pinned)
        #expect(c[1].createdAt.timeIntervalSince1970 == utc("2024-03-31T01:00:00Z").timeIntervalSince1970 + 0.25)
        #expect(c[1].expiresAt == utc("2025-01-01T00:00:00Z") && !c[1].pinned)
        #expect(RetentionPlanner.microseconds(c[2].createdAt) == RetentionPlanner.microseconds(utc("2024-03-31T02:30:00Z")) + 123_456)
        #expect(c[2].expiresAt == nil)
        #expect(c[3].state == .failed && c[3].id == "uuid-d" && c[0].id == "b")
    }

    @Test(
        "malformed timelines give a message that says what and where",
        arguments: [
            ("[", "not valid JSON"),
            (#"{"name": "x"}"#, "must be a JSON array"),
            (#"[{"name": "x", "createdAt": "2024-01-01T00:00:00Z"}, 3]"#, "snapshot #2: expected an object"),
            (#"[{"name": "x"}]"#, #"snapshot #1 ("x"): missing "createdAt""#),
            (#"[{"createdAt": "2024-01-01T00:00:00Z"}]"#, #"snapshot #1: missing "name""#),
            (#"[{"name": "x", "createdAt": "2024-01-01"}]"#, "is not an ISO 8601 timestamp"),
            (#"[{"name": "x", "createdAt": "2024-01-01T00:00:00"}]"#, "has no time zone"),
            (#"[{"name": "x", "createdAt": "2024-02-30T00:00:00Z"}]"#, "out of range"),
            (#"[{"name": "x", "createdAt": 1700000000}]"#, "must be an ISO 8601 string"),
            (#"[{"name": "x", "createdAt": "2024-01-01T00:00:00Z", "pined": true}]"#, #"unknown key "pined""#),
            (#"[{"name": "x", "createdAt": "2024-01-01T00:00:00Z", "pinned": 1}]"#, #""pinned" must be true or false"#),
            (#"[{"name": "x", "createdAt": "2024-01-01T00:00:00Z", "expiresAt": "soon"}]"#, "expiresAt:"),
            (#"[{"name": "x", "createdAt": "2024-01-01T00:00:00Z", "state": "done"}]"#, #""state" must be one of"#),
        ])
    func malformed(json: String, expected: String) {
        #expect {
            _ = try Timeline.decode(Data(json.utf8))
        } throws: { error in
            let text = "\(error)"
            let ok = error is TimelineError && text.contains(expected)
            if !ok { Issue.record("message was: \(text)") }
            return ok
        }
    }

    @Test func encodesInInputOrderWithNullReasons() throws {
        let input = try Timeline.decode(
            Data(
                #"""
                [{"name": "old", "createdAt": "2024-01-01T00:00:00Z"},
                 {"name": "new \"q\"", "createdAt": "2024-01-02T00:00:00Z"},
                 {"name": "p", "createdAt": "2023-01-02T00:00:00Z", "pinned": true}]
                """#.utf8))
        let plan = try RetentionPlanner.plan(input, policy: RetentionPolicy(keepLast: 1), now: utc("2024-02-01T00:00:00Z"), timeZone: tz("UTC"))
        let out = try JSONSerialization.jsonObject(with: Timeline.encode(plan)) as! [[String: Any]]
        #expect(out.count == 3)
        #expect(out.map { $0["name"] as? String } == ["old", "new \"q\"", "p"])
        #expect(out.map { $0["keep"] as? Bool } == [false, true, true])
        #expect(out[0]["reason"] is NSNull)
        #expect(out[1]["reason"] as? String == "last #1")
        #expect(out[2]["reason"] as? String == "pinned")
        #expect(out.allSatisfy { Set($0.keys) == ["name", "keep", "reason"] })
    }

    @Test func timestampFormatRoundTrips() {
        for s in ["2024-02-29T23:59:59Z", "1969-12-31T23:59:59.5Z", "2038-01-19T03:14:08.000001Z", "2000-01-01T00:00:00Z"] {
            let d = utc(s)
            let f = Timestamp.format(d)
            #expect(utc(f) == d, "\(s) → \(f)")
        }
        #expect(Timestamp.format(utc("2024-02-29T23:59:59+01:00")) == "2024-02-29T22:59:59Z")
    }
}
