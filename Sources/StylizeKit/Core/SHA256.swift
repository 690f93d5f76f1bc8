import CFFmpeg
import Foundation

/// SHA-256 of a file, computed with libavutil's av_sha.
func sha256Hex(of url: URL) throws -> String {
    guard let context = av_sha_alloc() else { throw StylizeError.ffmpeg(call: "av_sha_alloc", code: cffmpeg_error_enomem(), text: "out of memory") }
    defer { av_free(UnsafeMutableRawPointer(context)) }
    av_sha_init(context, 256)
    guard let handle = FileHandle(forReadingAtPath: url.path) else { throw StylizeError.fileNotFound(url.path) }
    defer { try? handle.close() }
    while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty {
        chunk.withUnsafeBytes { av_sha_update(context, $0.bindMemory(to: UInt8.self).baseAddress, $0.count) }
    }
    var digest = [UInt8](repeating: 0, count: 32)
    av_sha_final(context, &digest)
    return digest.map { String(format: "%02x", $0) }.joined()
}
