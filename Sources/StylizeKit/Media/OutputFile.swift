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

    /// A temporary path beside `url`, hidden, unique to this process.
    static func temporaryURL(for url: URL) -> URL {
        url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).\(getpid()).tmp")
    }

    static func write(_ data: Data, to url: URL, overwrite: Bool) throws {
        try checkWritable(url, overwrite: overwrite)
        let temporary = temporaryURL(for: url)
        do {
            try data.write(to: temporary)
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            throw StylizeError.unwritable(path: url.path, reason: error.localizedDescription)
        }
        if rename(temporary.path, url.path) != 0 {
            let reason = String(cString: strerror(errno))
            try? FileManager.default.removeItem(at: temporary)
            throw StylizeError.unwritable(path: url.path, reason: reason)
        }
    }
}
