import Foundation
import StylizeKit

// One executable, two builds. Built by scripts/fuzz with -sanitize=fuzzer and -DFUZZING, it is
// a libFuzzer target: its main hands over to libFuzzer's driver, and the parser is named by
// $STYLIZE_FUZZ_TARGET. Built plainly, it replays files through a parser:
// `stylize-fuzz TARGET FILE...`, for reproducing a crash a fuzzer found.

#if FUZZING
/// libFuzzer's driver (compiler-rt, FuzzerDriver.cpp): parses libFuzzer's flags and fuzzes `callback`.
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<Int32>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                         _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32) -> Int32

private let target = ProcessInfo.processInfo.environment["STYLIZE_FUZZ_TARGET"] ?? ""

/// SwiftPM links an executable's entry point under this name.
@_cdecl("stylize_fuzz_main")
func fuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    guard FuzzTargets.names.contains(target) else {
        FileHandle.standardError.write(Data("set STYLIZE_FUZZ_TARGET to one of \(FuzzTargets.names.joined(separator: ", "))\n".utf8))
        return 2
    }
    var count = argc
    var arguments = argv
    return LLVMFuzzerRunDriver(&count, &arguments) { bytes, size in
        FuzzTargets.run(target, bytes.map { Data(bytes: $0, count: size) } ?? Data())
        return 0
    }
}
#else
@main
struct Replay {
    static func main() {
        let arguments = Array(CommandLine.arguments.dropFirst())
        guard let target = arguments.first, FuzzTargets.names.contains(target) else {
            FileHandle.standardError.write(Data("usage: stylize-fuzz \(FuzzTargets.names.joined(separator: "|")) FILE...\n".utf8))
            exit(2)
        }
        for path in arguments.dropFirst() {
            guard let data = FileManager.default.contents(atPath: path) else {
                FileHandle.standardError.write(Data("stylize-fuzz: cannot read \(path)\n".utf8))
                exit(1)
            }
            FuzzTargets.run(target, data)
            print("\(path): ok")
        }
    }
}
#endif
