import Foundation
import StylizeKit

// Stylizes a clip in a gallery style and prints progress once per frame. With --cancel-after N
// it cancels the job's task after N frames and checks that nothing was left at the output.
//
//     swift run ClipJob IN OUT [STYLE] [--cancel-after N]

let arguments = Array(CommandLine.arguments.dropFirst())
guard arguments.count >= 2 else {
    FileHandle.standardError.write(Data("usage: ClipJob IN OUT [STYLE] [--cancel-after N]\n".utf8))
    exit(2)
}
let input = URL(fileURLWithPath: arguments[0]), output = URL(fileURLWithPath: arguments[1])
let styleName = arguments.count > 2 && !arguments[2].hasPrefix("--") ? arguments[2] : "starry-night"
let cancelAfter = arguments.firstIndex(of: "--cancel-after").flatMap { $0 + 1 < arguments.count ? Int(arguments[$0 + 1]) : nil }

let stylizer = try Stylizer()
let style = try stylizer.styleVector(for: StyleSpec(parsing: styleName))
var options = JobOptions()
options.overwrite = true
let job = VideoStylizer(stylizer: stylizer, options: options)

// Progress arrives on the job's writing thread; a stream brings it here.
let (updates, reporter) = AsyncStream<JobProgress>.makeStream()
let task = Task {
    defer { reporter.finish() }
    return try await job.stylize(input, to: output, style: style) { reporter.yield($0) }
}
for await progress in updates {
    print("frame \(progress.framesDone) of \(progress.framesTotal.map(String.init) ?? "?"), \(String(format: "%.1f", progress.framesPerSecond)) fps")
    if let cancelAfter, progress.framesDone >= cancelAfter { task.cancel() }
}
do {
    let summary = try await task.value
    print("wrote \(summary.output): \(summary.frames) frames, \(summary.width)x\(summary.height); \(summary.streams.joined(separator: "; "))")
    if cancelAfter != nil { print("the job ended before it was cancelled"); exit(1) }
} catch is CancellationError {
    let left = FileManager.default.fileExists(atPath: output.path)
    print("cancelled after \(cancelAfter ?? 0) frames; \(left ? "an output was LEFT BEHIND" : "no output written")")
    exit(left ? 1 : 0)
}
