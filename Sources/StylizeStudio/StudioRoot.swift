import Foundation

/// The folder the studio serves, and the only one: every path a request names is relative to
/// it, and one that leaves it (`..`, an absolute path, a symlink pointing outside) is refused.
struct StudioRoot: Sendable {
    /// The root with every symlink resolved, so that resolved paths can be compared with it.
    let url: URL
    /// Where the studio keeps its own files: uploads, renders and the job database.
    var dataFolder: URL { url.appendingPathComponent(Self.dataFolderName, isDirectory: true) }
    var uploads: URL { dataFolder.appendingPathComponent("uploads", isDirectory: true) }
    var renders: URL { dataFolder.appendingPathComponent("renders", isDirectory: true) }
    /// The renders folder as the API and the command lines name it, relative to the root.
    static let rendersPath = dataFolderName + "/renders"

    static let dataFolderName = "stylize-studio"

    init(_ folder: URL) throws {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder.path, isDirectory: &isFolder), isFolder.boolValue else {
            throw StudioError.setup("the root \(folder.path) is not a folder")
        }
        url = folder.standardizedFileURL.resolvingSymlinksInPath()
    }

    /// The file or folder `relative` names under the root. Refused (403) when the text is
    /// absolute, has a `..`, `.` or empty component, a backslash or a NUL, or when, with its
    /// symlinks resolved, it lies outside the root; 404 when nothing is there.
    func resolve(_ relative: String, mustExist: Bool = true) throws -> URL {
        if relative.isEmpty { return url }
        let components = relative.split(separator: "/", omittingEmptySubsequences: false)
        guard !relative.hasPrefix("/"), !relative.contains("\\"), !relative.contains("\0"),
              components.allSatisfy({ !$0.isEmpty && $0 != "." && $0 != ".." }) else {
            throw StudioError.forbidden("\(relative) is not a path under the studio's root")
        }
        let candidate = url.appendingPathComponent(relative)
        let exists = FileManager.default.fileExists(atPath: candidate.path)
        // A link that dangles still has a target; a missing file's folder must stay inside.
        let resolved = exists ? candidate.resolvingSymlinksInPath() : candidate.deletingLastPathComponent().resolvingSymlinksInPath()
        guard contains(resolved) else { throw StudioError.forbidden("\(relative) leads outside the studio's root") }
        if mustExist && !exists { throw StudioError.notFound("\(relative) does not exist") }
        return exists ? resolved : resolved.appendingPathComponent(candidate.lastPathComponent)
    }

    /// Whether a resolved URL is the root or lies under it.
    func contains(_ resolved: URL) -> Bool {
        resolved.path == url.path || resolved.path.hasPrefix(url.path.hasSuffix("/") ? url.path : url.path + "/")
    }

    /// The path of a URL under the root, relative to it, as the API names files ("" for the
    /// root itself).
    func relativePath(of file: URL) -> String {
        let path = file.standardizedFileURL.resolvingSymlinksInPath().path
        if path == url.path { return "" }
        let base = url.path.hasSuffix("/") ? url.path : url.path + "/"
        return path.hasPrefix(base) ? String(path.dropFirst(base.count)) : path
    }
}
