import XCTest
@testable import StylizeKit

final class StyleSpecTests: XCTestCase {
    func testSinglePicture() throws {
        let spec = try StyleSpec(parsing: "art/starry.jpg")
        XCTAssertEqual(spec.parts, [.init(path: "art/starry.jpg", weight: 1)])
    }

    func testWeightedMix() throws {
        let spec = try StyleSpec(parsing: "a.jpg:0.7, b.json:0.3")
        XCTAssertEqual(spec.parts, [.init(path: "a.jpg", weight: 0.7), .init(path: "b.json", weight: 0.3)])
        XCTAssertFalse(spec.parts[0].isVectorFile)
        XCTAssertTrue(spec.parts[1].isVectorFile)
    }

    func testWeightThatIsNotANumber() throws {
        XCTAssertThrowsError(try StyleSpec(parsing: "starry.json:abc")) { error in
            XCTAssertEqual(error.localizedDescription, "bad style: the weight \"abc\" of starry.json is not a number (write STYLE:WEIGHT, e.g. starry.json:0.5)")
        }
        // A file whose name holds a colon is still a path.
        let dir = try TestSupport.temporaryDirectory(self)
        let odd = dir.appendingPathComponent("dir:x.png").path
        XCTAssertTrue(FileManager.default.createFile(atPath: odd, contents: Data()))
        XCTAssertEqual(try StyleSpec(parsing: "\(odd),b.png").parts, [.init(path: odd, weight: 1), .init(path: "b.png", weight: 1)])
    }

    func testMixWithSomeWeightsMissingIsRefused() {
        XCTAssertThrowsError(try StyleSpec(parsing: "a.json:0.7,b.png")) { error in
            XCTAssertEqual(error.localizedDescription, "bad style: b.png has no weight in a mix whose other styles have one: give every style a weight (a.jpg:0.7,b.json:0.3) or none (equal weights)")
        }
        XCTAssertEqual(try StyleSpec(parsing: "a.json,b.png").parts.map(\.weight), [1, 1])
    }

    func testBadSpecs() {
        for text in ["", "a.jpg,", "a.jpg:-1", ":0.5", "a.jpg:0,b.jpg:0", "a.jpg:inf"] {
            XCTAssertThrowsError(try StyleSpec(parsing: text), "\"\(text)\" should be rejected") { error in
                guard case StylizeError.badStyle = error else { return XCTFail("\(error)") }
            }
        }
    }

    func testMixNormalisesWeights() throws {
        let a = try StyleVector([Float](repeating: 1, count: 100))
        let b = try StyleVector((0..<100).map { Float($0) })
        let mix = try StyleVector.mix([(a, 3), (b, 1)])
        for i in 0..<100 { XCTAssertEqual(mix.values[i], 0.75 + 0.25 * Float(i), accuracy: 1e-5) }
        XCTAssertEqual(try StyleVector.mix([(a, 5)]), a)
        XCTAssertThrowsError(try StyleVector.mix([(a, 0), (b, 0)]))
        XCTAssertThrowsError(try StyleVector.mix([(a, -1), (b, 2)]))
    }

    func testStrengthBlend() throws {
        let style = try StyleVector([Float](repeating: 2, count: 100))
        let identity = try StyleVector([Float](repeating: -2, count: 100))
        XCTAssertEqual(try style.blended(towards: identity, strength: 1), style)
        XCTAssertEqual(try style.blended(towards: identity, strength: 0), identity)
        XCTAssertEqual(try style.blended(towards: identity, strength: 0.25).values[7], -1, accuracy: 1e-6)
        XCTAssertThrowsError(try style.blended(towards: identity, strength: 1.5))
    }

    func testVectorLengthIsChecked() {
        XCTAssertThrowsError(try StyleVector([1, 2, 3]))
        XCTAssertThrowsError(try StyleVector([Float](repeating: .nan, count: 100)))
    }

    func testVectorFileRoundTrip() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let url = dir.appendingPathComponent("v.json")
        let vector = try StyleVector((0..<100).map { Float($0) * 0.123 - 4 })
        try StyleVectorFile(vector: vector, source: "test").write(to: url, overwrite: false)
        XCTAssertEqual(try StyleVectorFile.read(url), vector)
        XCTAssertThrowsError(try StyleVectorFile(vector: vector, source: "again").write(to: url, overwrite: false)) { error in
            XCTAssertEqual(error as? StylizeError, .outputExists(url.path))
        }
        try StyleVectorFile(vector: vector, source: "again").write(to: url, overwrite: true)
        let object = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any]
        XCTAssertEqual((object?["vector"] as? [Double])?.count, 100)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), ["v.json"], "no temporary file left")
    }

    func testBadVectorFiles() throws {
        let dir = try TestSupport.temporaryDirectory(self)
        let cases = ["short.json": #"{"vector": [1, 2]}"#, "nokey.json": #"{"values": []}"#, "text.json": "not json"]
        for (name, text) in cases {
            let url = dir.appendingPathComponent(name)
            try text.write(to: url, atomically: true, encoding: .utf8)
            XCTAssertThrowsError(try StyleVectorFile.read(url)) { error in
                guard case StylizeError.badStyle(let message) = error else { return XCTFail("\(error)") }
                XCTAssertTrue(message.contains(name), message)
            }
        }
        XCTAssertThrowsError(try StyleVectorFile.read(dir.appendingPathComponent("missing.json"))) { error in
            XCTAssertEqual(error as? StylizeError, .fileNotFound(dir.appendingPathComponent("missing.json").path))
        }
    }
}
