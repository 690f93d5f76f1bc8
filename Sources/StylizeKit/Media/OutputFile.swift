import Foundation

/// Writes a file so that no half-written output is ever left at the destination: the bytes go
/// to a temporary file beside it, which is renamed over the destination once complete.
enum OutputFile {
    /// Fails with `outputExists` when `url` exists and `overwrite` is false.
    static func checkWritable(_ url: URL, overwrite: Bool) throws {
        if !overwrite && FileManager.default.fileExists(atPath: url.path) {
            throw StylizeError.outputExists(url.path)
        }
        let directory = url.deletingLastPathComponent()
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw StylizeError.unwritable(path: url.path, reason: "no such directory \(directory.path)")
        }
    }

    /// A temporary path beside `url`, hidden, unique to this process on this machine (outputs
    /// may live on storage that several machines share): `.NAME.HOST.PID.tmp`.
    static func temporaryURL(for url: URL) -> URL {
        url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).\(hostName).\(getpid()).tmp")
    }

    static let hostName: String = {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "localhost" }
        let name = String(nulTerminated: buffer).replacingOccurrences(of: "/", with: "_")
        return name.isEmpty ? "localhost" : name
    }()

    /// Removes the temporary files that jobs on this machine left beside `url` when they were
    /// killed (SIGKILL, a power cut) before they could clean up: those whose process is gone.
    /// Files of live processes, and of other machines, are left alone.
    static func removeStaleTemporaries(for url: URL) {
        let directory = url.deletingLastPathComponent()
        let prefix = ".\(url.lastPathComponent).\(hostName).", suffix = ".tmp"
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory.path) else { return }
        for name in names where name.hasPrefix(prefix) && name.hasSuffix(suffix) {
            guard let pid = pid_t(name.dropFirst(prefix.count).dropLast(suffix.count)), pid != getpid() else { continue }
            if kill(pid, 0) == -1 && errno == ESRCH {
                try? FileManager.default.removeItem(at: directory.appendingPathComponent(name))
            }
        }
    }

    static func write(_ data: Data, to url: URL, overwrite: Bool) throws {
        try checkWritable(url, overwrite: overwrite)
        removeStaleTemporaries(for: url)
        let temporary = temporaryURL(for: url)
        // POSIX calls, for the system's own reason ("Permission denied", "Read-only file system").
        let descriptor = open(temporary.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw StylizeError.unwritable(path: url.path, reason: String(cString: strerror(errno))) }
        var failure: Int32?
        data.withUnsafeBytes { bytes in
            var offset = 0
            while offset < bytes.count {
                let written = Foundation.write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
                if written < 0 && errno == EINTR { continue }
                guard written > 0 else { failure = written < 0 ? errno : ENOSPC; return }
                offset += written
            }
        }
        let reason = failure.map { String(cString: strerror($0)) }
        if close(descriptor) != 0 || reason != nil {
            let why = reason ?? String(cString: strerror(errno))
            unlink(temporary.path)
            throw StylizeError.unwritable(path: url.path, reason: why)
        }
        if rename(temporary.path, url.path) != 0 {
            let reason = String(cString: strerror(errno))
            try? FileManager.default.removeItem(at: temporary)
            throw StylizeError.unwritable(path: url.path, reason: reason)
        }
    }
}
