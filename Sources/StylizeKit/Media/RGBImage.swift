import Foundation

/// An RGB image as the networks see it: interleaved HWC floats in [0, 1].
public struct RGBImage: Sendable, Equatable {
    /// Pixels across.
    public let width: Int
    /// Pixels down.
    public let height: Int
    /// `height * width * 3` values, row by row, R G B per pixel.
    public var pixels: [Float]

    /// An image of `width` x `height` pixels from `pixels`: R, G, B per pixel, row by row,
    /// from 0 to 1 (`width * height * 3` values).
    public init(width: Int, height: Int, pixels: [Float]) {
        precondition(pixels.count == width * height * 3, "pixel count does not match \(width)x\(height)x3")
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// An image of one colour.
    public init(width: Int, height: Int, red: Float, green: Float, blue: Float) {
        var pixels = [Float](repeating: 0, count: width * height * 3)
        for i in stride(from: 0, to: pixels.count, by: 3) {
            pixels[i] = red; pixels[i + 1] = green; pixels[i + 2] = blue
        }
        self.init(width: width, height: height, pixels: pixels)
    }

    /// Synthetic but not constant content for timing the networks: a smooth gradient with
    /// texture, so that the normalization statistics are those of a real picture.
    public static func benchmarkPattern(width: Int, height: Int) -> RGBImage {
        var pixels = [Float](repeating: 0, count: width * height * 3)
        for y in 0..<height {
            for x in 0..<width {
                let i = (y * width + x) * 3
                pixels[i] = Float(x) / Float(width)
                pixels[i + 1] = Float(y) / Float(height)
                pixels[i + 2] = 0.5 + 0.5 * sin(Float(x * y) * 0.01)
            }
        }
        return RGBImage(width: width, height: height, pixels: pixels)
    }

    /// Peak signal-to-noise ratio in dB against `other` (same size, peak 1).
    public func psnr(_ other: RGBImage) -> Double {
        precondition(width == other.width && height == other.height, "PSNR of images of different sizes")
        var sum = 0.0
        for (a, b) in zip(pixels, other.pixels) {
            let d = Double(a) - Double(b)
            sum += d * d
        }
        let mse = sum / Double(pixels.count)
        return mse == 0 ? .infinity : 10 * log10(1 / mse)
    }
}

extension RGBImage {
    /// The image turned clockwise by `degrees` (a multiple of 90).
    public func rotated(clockwise degrees: Int) -> RGBImage {
        let (w, h, out) = turnedPixels(pixels, width: width, height: height, clockwise: degrees)
        return RGBImage(width: w, height: h, pixels: out)
    }
}

/// RGB pixels (3 values each, row by row) of a `width` x `height` image turned clockwise by
/// `degrees` (a multiple of 90), with the turned image's size.
func turnedPixels<Value>(_ pixels: [Value], width: Int, height: Int, clockwise degrees: Int) -> (width: Int, height: Int, pixels: [Value]) {
    let turns = ((degrees / 90) % 4 + 4) % 4
    guard turns != 0 else { return (width, height, pixels) }
    let (w, h) = turns == 2 ? (width, height) : (height, width)
    var out = pixels
    for y in 0..<h {
        for x in 0..<w {
            // The source pixel that lands at (x, y).
            let (sx, sy): (Int, Int)
            switch turns {
            case 1: (sx, sy) = (y, height - 1 - x)
            case 2: (sx, sy) = (width - 1 - x, height - 1 - y)
            default: (sx, sy) = (width - 1 - y, x)
            }
            let s = (sy * width + sx) * 3, d = (y * w + x) * 3
            out[d] = pixels[s]; out[d + 1] = pixels[s + 1]; out[d + 2] = pixels[s + 2]
        }
    }
    return (w, h, out)
}
