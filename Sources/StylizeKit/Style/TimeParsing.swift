import Foundation

/// Parses a time as users write it: seconds (`2.5`), `MM:SS(.mmm)` or `HH:MM:SS(.mmm)`.
package func parseSeconds(_ text: String) throws -> Double {
    let parts = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
    guard (1...3).contains(parts.count), let last = Double(parts.last!), last >= 0, last.isFinite else {
        throw StylizeError.invalidArgument("bad time \"\(text)\": use seconds (2.5) or HH:MM:SS.mmm")
    }
    var seconds = last
    for (i, part) in parts.dropLast().reversed().enumerated() {
        guard let value = Int(part), (0...1_000_000).contains(value) else {
            throw StylizeError.invalidArgument("bad time \"\(text)\": use seconds (2.5) or HH:MM:SS.mmm")
        }
        seconds += Double(value) * (i == 0 ? 60 : 3600)
    }
    guard seconds <= 1e9 else { throw StylizeError.invalidArgument("bad time \"\(text)\": too far") }
    if parts.count > 1 && last >= 60 {
        throw StylizeError.invalidArgument("bad time \"\(text)\": seconds must be below 60 in MM:SS")
    }
    return seconds
}
