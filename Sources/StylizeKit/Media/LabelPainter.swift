import CFFmpeg
import Foundation

/// Writes text onto pictures with libavfilter's drawtext filter (FreeType) and a TrueType font
/// from the system (DejaVu Sans, Debian's fonts-dejavu-core).
enum LabelPainter {
    /// One piece of text and where its top-left corner goes.
    struct Label: Sendable {
        var text: String
        var x: Int, y: Int
        var size: Int

        init(_ text: String, x: Int, y: Int, size: Int = 18) {
            self.text = text
            self.x = x
            self.y = y
            self.size = size
        }
    }

    /// Fonts tried in order.
    static let fontCandidates = [
        "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
        "/usr/share/fonts/dejavu/DejaVuSans.ttf",
        "/usr/share/fonts/TTF/DejaVuSans.ttf",
        "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    ]

    static func font() throws -> String {
        guard let font = fontCandidates.first(where: { FileManager.default.fileExists(atPath: $0) }) else {
            throw StylizeError.invalidArgument("no font for labels (looked for DejaVu Sans): apt-get install fonts-dejavu-core")
        }
        return font
    }

    /// `picture` with `labels` drawn on it in white.
    static func paint(_ labels: [Label], on picture: Picture) throws -> Picture {
        guard !labels.isEmpty else { return picture }
        let font = try font()
        // Each text goes through a file (textfile=), so no text needs the filter graph's escaping.
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("stylize-labels-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        var chain: [String] = []
        for (i, label) in labels.enumerated() {
            let file = folder.appendingPathComponent("\(i).txt")
            try label.text.write(to: file, atomically: true, encoding: .utf8)
            chain.append("drawtext=fontfile=\(font):textfile=\(file.path):expansion=none:x=\(label.x):y=\(label.y):fontsize=\(label.size):fontcolor=white")
        }
        let graph = try FilterGraph(width: picture.width, height: picture.height, format: AV_PIX_FMT_RGB24, description: chain.joined(separator: ","))
        let input = try Frame(width: picture.width, height: picture.height, format: AV_PIX_FMT_RGB24)
        let stride = Int(input.pointer.pointee.linesize.0)
        let base = input.pointer.pointee.data.0!
        for y in 0..<picture.height {
            for i in 0..<(picture.width * 3) {
                base[y * stride + i] = UInt8((UInt32(picture.samples[y * picture.width * 3 + i]) * 255 + 32767) / 65535)
            }
        }
        let output = try graph.filter(input)
        let outStride = Int(output.pointer.pointee.linesize.0)
        let outBase = output.pointer.pointee.data.0!
        var samples = [UInt16](repeating: 0, count: picture.samples.count)
        for y in 0..<picture.height {
            for i in 0..<(picture.width * 3) { samples[y * picture.width * 3 + i] = UInt16(outBase[y * outStride + i]) * 257 }
        }
        return Picture(width: picture.width, height: picture.height, samples: samples)
    }
}
