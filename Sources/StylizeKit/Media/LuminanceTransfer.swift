import Foundation

/// How much of R, G and B makes luma (Y') in a Y'CbCr matrix.
public struct LumaWeights: Sendable, Equatable {
    /// The weights of red, green and blue in the luma; they sum to 1.
    public var red: Float, green: Float, blue: Float

    /// ITU-R BT.601: JPEG, and video below 720 lines.
    public static let bt601 = LumaWeights(red: 0.299, green: 0.587, blue: 0.114)
    /// ITU-R BT.709: HD video.
    public static let bt709 = LumaWeights(red: 0.2126, green: 0.7152, blue: 0.0722)
    /// ITU-R BT.2020 (non-constant luminance): UHD video.
    public static let bt2020 = LumaWeights(red: 0.2627, green: 0.6780, blue: 0.0593)
}

extension RGBImage {
    /// Luminance-only transfer (Gatys et al. 2016, "Preserving Color in Neural Artistic Style
    /// Transfer"): the content's colours with this (stylized) image's luma, that luma first
    /// matched to the content's mean and spread.
    ///
    /// It works on the RGB values the pipeline already has, with no colour conversion: in any
    /// Y'CbCr matrix, Cb and Cr are combinations of R, G and B whose weights sum to zero, so
    /// adding one luma difference to all three channels changes Y' alone and leaves the
    /// content's Cb and Cr exactly as they were. The difference stops where a channel would
    /// leave [0, 1].
    public func keepingColors(of content: RGBImage, luma weights: LumaWeights = .bt601) -> RGBImage {
        precondition(width == content.width && height == content.height, "colour transfer between images of different sizes")
        let count = width * height
        guard count > 0 else { return self }
        var out = [Float](repeating: 0, count: pixels.count)
        pixels.withUnsafeBufferPointer { stylized in
            content.pixels.withUnsafeBufferPointer { original in
                func luma(_ p: UnsafeBufferPointer<Float>, _ i: Int) -> Float {
                    weights.red * p[3 * i] + weights.green * p[3 * i + 1] + weights.blue * p[3 * i + 2]
                }
                var sums = (stylized: 0.0, stylizedSquares: 0.0, content: 0.0, contentSquares: 0.0)
                for i in 0..<count {
                    let s = Double(luma(stylized, i)), c = Double(luma(original, i))
                    sums.stylized += s; sums.stylizedSquares += s * s
                    sums.content += c; sums.contentSquares += c * c
                }
                let n = Double(count)
                let (meanS, meanC) = (sums.stylized / n, sums.content / n)
                let spreadS = max(0, sums.stylizedSquares / n - meanS * meanS).squareRoot()
                let spreadC = max(0, sums.contentSquares / n - meanC * meanC).squareRoot()
                // A flat stylized luma has no spread to rescale: keep its own contrast.
                let gain = Float(spreadS > 1e-6 ? spreadC / spreadS : 1)
                let offset = Float(meanC) - gain * Float(meanS)
                for i in 0..<count {
                    let (r, g, b) = (original[3 * i], original[3 * i + 1], original[3 * i + 2])
                    // Only as far as no channel leaves [0, 1]: clipping one channel would change
                    // the colour, and the colour is what is kept (saturated pixels keep more of
                    // their own luma).
                    let wanted = gain * luma(stylized, i) + offset - luma(original, i)
                    let delta = min(max(wanted, -min(r, g, b)), 1 - max(r, g, b))
                    out[3 * i] = r + delta; out[3 * i + 1] = g + delta; out[3 * i + 2] = b + delta
                }
            }
        }
        return RGBImage(width: width, height: height, pixels: out)
    }
}
