import Foundation

extension ExternalProcess {
    /// All processes below `pid` (children, their children, ...) per /proc/PID/task/TID/children.
    static func descendants(of pid: pid_t) -> [pid_t] {
        var result: [pid_t] = []
        var queue = [pid]
        while let current = queue.popLast() {
            let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(current)/task")) ?? []
            for task in tasks {
                guard let text = try? String(contentsOfFile: "/proc/\(current)/task/\(task)/children", encoding: .utf8) else { continue }
                let children = text.split(separator: " ").compactMap { pid_t($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
                result += children
                queue += children
            }
        }
        return result
    }
}
