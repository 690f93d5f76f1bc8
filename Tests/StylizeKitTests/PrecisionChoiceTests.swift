import XCTest
@testable import StylizeKit

/// `auto`: the faster float precision by measurement, kept per CPU and build.
final class PrecisionChoiceTests: XCTestCase {
    func testDecisionTakesTheFasterByItsFastestRun() {
        // Intel without AMX: bf16 about 1.5x slower than f32.
        XCTAssertEqual(PrecisionProbe.decide(f32: [33, 32, 40], bf16: [49, 48, 60]).precision, .f32)
        // Zen 4 or AMX: bf16 well ahead; a disturbed f32 run does not decide.
        XCTAssertEqual(PrecisionProbe.decide(f32: [60, 58, 20], bf16: [34, 35]).precision, .f32)
        XCTAssertEqual(PrecisionProbe.decide(f32: [60, 58, 61], bf16: [34, 35]).precision, .bf16)
        // Within 5%: f32, whose arithmetic is exact.
        XCTAssertEqual(PrecisionProbe.decide(f32: [40], bf16: [38.5]).precision, .f32)
        XCTAssertEqual(PrecisionProbe.decide(f32: [40], bf16: [37.5]).precision, .bf16)
        let choice = PrecisionProbe.decide(f32: [32.2], bf16: [48.2])
        XCTAssertEqual(choice.milliseconds, ["f32": 32.2, "bf16": 48.2])
        XCTAssertTrue(choice.reason.contains("bf16 48.2 ms, f32 32.2 ms"), choice.reason)
    }

    /// The first choice on a machine is measured (or ruled, without native bf16) and written to
    /// the cache; the next is read from it: a planted entry for this machine's key is what comes back.
    func testChoiceIsMeasuredOnceThenReadFromTheCache() throws {
        let stylizer = try self.stylizer
        let cache = try TestSupport.temporaryDirectory(self).appendingPathComponent("choices.json")
        let first = PrecisionProbe.choose(stylizer.transformer, cache: cache)
        XCTAssertNotEqual(first.precision, .auto)
        guard Precision.cpuHasNativeBF16 else {
            XCTAssertEqual(first.precision, .f32)
            XCTAssertFalse(FileManager.default.fileExists(atPath: cache.path), "a rule needs no cache")
            return
        }
        let measured = try XCTUnwrap(first.milliseconds)
        XCTAssertEqual(Set(measured.keys), ["f32", "bf16"])
        XCTAssertTrue(measured.values.allSatisfy { $0 > 0 && $0.isFinite })
        print("auto on \(PrecisionChoice.cpuModel): \(first.precision.rawValue), \(first.reason)")
        XCTAssertEqual(try PrecisionProbe.load(cache)[PrecisionProbe.cacheKey()], first)

        let planted = PrecisionChoice(precision: first.precision == .f32 ? .bf16 : .f32, reason: "planted")
        try PrecisionProbe.store(planted, key: PrecisionProbe.cacheKey(), in: cache)
        XCTAssertEqual(PrecisionProbe.choose(stylizer.transformer, cache: cache), planted)
    }

    /// A worker asked for `auto` runs what the transformer's choice says, and `--json` says why.
    func testAutoWorkerRunsTheChosenPrecision() throws {
        let stylizer = try self.stylizer
        let choice = stylizer.transformer.precisionChoice()
        XCTAssertEqual(try stylizer.makeWorker(precision: .auto).precision, choice.precision)
        XCTAssertEqual(stylizer.transformer.resolve(.bf16), .bf16)
        XCTAssertEqual(stylizer.transformer.resolve(.f32), .f32)

        let dir = try TestSupport.temporaryDirectory(self)
        let out = dir.appendingPathComponent("out.png").path
        let result = try TestSupport.run(TestSupport.executable, ["image", TestSupport.fixture("content_96x96.png").path,
                                                                  "-s", TestSupport.styleVectorFile.path, "-o", out, "--json"])
        XCTAssertEqual(result.status, 0, result.stderr)
        let summary = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
        XCTAssertEqual(summary?["precision"] as? String, choice.precision.rawValue)
        XCTAssertFalse((summary?["precisionReason"] as? String ?? "").isEmpty)
    }
}
