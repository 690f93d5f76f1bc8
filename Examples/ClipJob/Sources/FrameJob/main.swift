import Foundation
import StylizeKit

// Stylizes raw RGBA frames from standard input to standard output through a FrameSession, as a
// program with frames in memory (a camera's, a game's) would: one buffer in, one buffer out,
// stabilized. With ffmpeg on both sides:
//
//     ffmpeg -i clip.mp4 -f rawvideo -pix_fmt rgba - | FrameJob 320 180 [STYLE] |
//         ffmpeg -f rawvideo -pix_fmt rgba -video_size 320x180 -framerate 25 -i - styled.mp4

let arguments = Array(CommandLine.arguments.dropFirst())
guard arguments.count >= 2, let width = Int(arguments[0]), let height = Int(arguments[1]) else {
    FileHandle.standardError.write(Data("usage: FrameJob WIDTH HEIGHT [STYLE] < rgba-frames > rgba-frames\n".utf8))
    exit(2)
}
let stylizer = try await Stylizer.load()
let style = try stylizer.styleVector(for: StyleSpec(parsing: arguments.count > 2 ? arguments[2] : "starry-night"))
let session = try FrameSession(stylizer: stylizer, style: style, width: width, height: height)

let frameBytes = width * height * 4
var input = [UInt8](repeating: 0, count: frameBytes), output = input
var frames = 0
let started = Date()
while true {
    // Whole frames only: a short read at the end is the end of the stream.
    let read = input.withUnsafeMutableBytes { buffer in
        var done = 0
        while done < frameBytes {
            let n = Foundation.read(0, buffer.baseAddress! + done, frameBytes - done)
            if n <= 0 { break }
            done += n
        }
        return done
    }
    guard read == frameBytes else { break }
    try input.withUnsafeMutableBytes { source in
        try output.withUnsafeMutableBytes { target in
            try session.stylize(FrameBuffer(format: .rgba, width: width, height: height, planes: [source.baseAddress!], strides: [width * 4]),
                                into: FrameBuffer(format: .rgba, width: width, height: height, planes: [target.baseAddress!], strides: [width * 4]))
        }
    }
    output.withUnsafeBytes { FileHandle.standardOutput.write(Data($0)) }
    frames += 1
}
let seconds = Date().timeIntervalSince(started)
FileHandle.standardError.write(Data(String(format: "stylized %d frames of %dx%d in memory (%.1f ms a frame)\n",
                                           frames, width, height, 1000 * seconds / Double(max(frames, 1))).utf8))
