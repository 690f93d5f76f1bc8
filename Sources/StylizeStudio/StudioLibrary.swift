import Foundation
import StylizeKit

/// What the page can open and pick: the files under the root, the styles (the gallery,
/// uploaded pictures, vector files), and uploads checked before they are kept.
struct StudioLibrary: Sendable {
    let root: StudioRoot
    let maxUploadBytes: Int

    struct Entry: Codable, Sendable {
        enum Kind: String, Codable, Sendable { case clip, picture, folder, vector }
        var name: String
        var path: String
        var kind: Kind
        /// Folders: the pictures directly inside, so that the folder can be opened as frames.
        var pictures: Int?
        var bytes: Int?
    }

    struct Listing: Codable, Sendable {
        var dir: String
        var parent: String?
        var entries: [Entry]
    }

    static let clipExtensions = FrameSequenceStylizer.videoExtensions.union(["gif", "3gp", "ogv", "wmv", "m2ts", "mts"])

    static func kind(of url: URL) -> Entry.Kind? {
        let ext = url.pathExtension.lowercased()
        if FrameSequence.pictureExtensions.contains(ext) { return .picture }
        if clipExtensions.contains(ext) { return .clip }
        if ext == "json" { return .vector }
        return nil
    }

    /// The folder `dir` (relative to the root): folders first, then clips, pictures and vector
    /// files, each by name; hidden files and other files are left out.
    func list(_ dir: String) throws -> Listing {
        let folder = try root.resolve(dir)
        let names: [String]
        do { names = try FileManager.default.contentsOfDirectory(atPath: folder.path) } catch {
            throw StudioError.badRequest("\(dir) is not a folder")
        }
        let base = root.relativePath(of: folder)
        let entries = names.filter { !$0.hasPrefix(".") }.compactMap { name -> Entry? in
            let url = folder.appendingPathComponent(name)
            let path = base.isEmpty ? name : base + "/" + name
            // Entries whose links lead out of the root are not shown.
            guard root.contains(url.resolvingSymlinksInPath()) else { return nil }
            var isFolder: ObjCBool = false
            guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isFolder) else { return nil }
            if isFolder.boolValue {
                let inside = (try? FileManager.default.contentsOfDirectory(atPath: url.path)) ?? []
                let pictures = inside.filter { FrameSequence.pictureExtensions.contains(($0 as NSString).pathExtension.lowercased()) }.count
                return Entry(name: name, path: path, kind: .folder, pictures: pictures, bytes: nil)
            }
            guard let kind = Self.kind(of: url) else { return nil }
            let bytes = (try? FileManager.default.attributesOfItem(atPath: url.path)[.size] as? Int) ?? nil
            return Entry(name: name, path: path, kind: kind, pictures: nil, bytes: bytes)
        }
        let order: [Entry.Kind: Int] = [.folder: 0, .clip: 1, .picture: 2, .vector: 3]
        let sorted = entries.sorted { (order[$0.kind]!, $0.name.lowercased()) < (order[$1.kind]!, $1.name.lowercased()) }
        let parent: String? = base.isEmpty ? nil : (base as NSString).deletingLastPathComponent
        return Listing(dir: base, parent: parent, entries: sorted)
    }

    struct Style: Codable, Sendable {
        enum Kind: String, Codable, Sendable { case gallery, upload, vector }
        var id: String
        var label: String
        var detail: String
        var kind: Kind
        var thumbnail: String
    }

    /// The gallery, then uploaded style pictures, then `.json` vector files at the root and in
    /// the uploads folder.
    func styles() throws -> [Style] {
        var styles = StyleGallery.builtIn.entries.map { entry in
            Style(id: entry.name, label: entry.title, detail: "\(entry.artist), \(entry.year)", kind: .gallery,
                  thumbnail: Self.thumbnailURL(entry.name))
        }
        let styleFolder = root.uploads.appendingPathComponent("styles")
        for name in ((try? FileManager.default.contentsOfDirectory(atPath: styleFolder.path)) ?? []).sorted() where !name.hasPrefix(".") {
            let path = root.relativePath(of: styleFolder.appendingPathComponent(name))
            switch Self.kind(of: URL(fileURLWithPath: name)) {
            case .picture: styles.append(Style(id: path, label: name, detail: "uploaded picture", kind: .upload, thumbnail: Self.thumbnailURL(path)))
            case .vector: styles.append(Style(id: path, label: name, detail: "vector file", kind: .vector, thumbnail: Self.thumbnailURL(path)))
            default: break
            }
        }
        for name in ((try? FileManager.default.contentsOfDirectory(atPath: root.url.path)) ?? []).sorted()
        where !name.hasPrefix(".") && name.lowercased().hasSuffix(".json") && (try? StyleVectorFile.read(root.url.appendingPathComponent(name))) != nil {
            styles.append(Style(id: name, label: name, detail: "vector file", kind: .vector, thumbnail: Self.thumbnailURL(name)))
        }
        return styles
    }

    static func thumbnailURL(_ id: String) -> String {
        "/api/styles/thumbnail?id=" + (id.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~"))) ?? id)
    }

    /// A style's thumbnail, about 128 pixels square, as JPEG: the gallery's are compiled in,
    /// an uploaded picture's is its centre square.
    func thumbnail(_ id: String) throws -> Data {
        if let base64 = galleryThumbnails[id.lowercased()], let data = Data(base64Encoded: base64) { return data }
        let url = try root.resolve(id)
        guard Self.kind(of: url) == .picture else { throw StudioError.notFound("\(id) has no picture") }
        return try Picture(contentsOf: url).centreSquare.resized(width: 128, height: 128).encoded(as: .jpeg)
    }

    enum Purpose: String, Sendable { case input, style }

    /// Stores an upload that has been written to `temporary` as `name` in the uploads folder
    /// (styles in `uploads/styles`), after checking that FFmpeg reads it: a picture for a style,
    /// a picture or a clip for an input. A refused upload is deleted; a name already used gets
    /// a number. Returns the path relative to the root and what it holds.
    func keep(_ temporary: URL, name: String, purpose: Purpose) throws -> (path: String, kind: MediaInfo.Kind) {
        defer { try? FileManager.default.removeItem(at: temporary) }
        let cleaned = String(name.map { $0.isLetter || $0.isNumber || "-_.".contains($0) ? $0 : "_" }).trimmingCharacters(in: CharacterSet(charactersIn: "."))
        let ext = (cleaned as NSString).pathExtension.lowercased()
        guard !cleaned.isEmpty, let kind = Self.kind(of: URL(fileURLWithPath: cleaned)), kind != .folder else {
            throw StudioError.unsupportedMedia("\(name) is not a picture or clip (its name should end in .jpg, .png, .mp4, ...)")
        }
        if purpose == .style && kind != .picture { throw StudioError.unsupportedMedia("a style must be a picture; \(name) is not one") }
        // Checked under its own extension, where MediaInfo looks.
        let checked = temporary.deletingLastPathComponent().appendingPathComponent(".check-\(UUID().uuidString).\(ext)")
        try FileManager.default.moveItem(at: temporary, to: checked)
        defer { try? FileManager.default.removeItem(at: checked) }
        let info: MediaInfo
        do {
            info = try MediaInfo(of: checked)
            if info.kind == .clip { _ = try Picture(clip: checked, at: 0) }
        } catch {
            throw StudioError.unsupportedMedia("\(name) is not a picture or clip FFmpeg can read")
        }
        let folder = purpose == .style ? root.uploads.appendingPathComponent("styles") : root.uploads
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let stem = (cleaned as NSString).deletingPathExtension
        let final = folder.appendingPathComponent(RenderPlan.freeName(stem.isEmpty ? "upload" : stem, ext: ext, in: folder, taken: []))
        try FileManager.default.moveItem(at: checked, to: final)
        return (root.relativePath(of: final), info.kind)
    }
}
