import CFFmpeg
import Foundation

/// Makes each frame's final mask with FFmpeg's filters: 8-bit grey at the output's size, 255 where
/// the style goes. A stored mask (`MaskReader`) is scaled (its alpha where it has one, else its
/// brightness); a key is taken from the frame itself with chromakey, or from its luma, turned as
/// the output is. Then the edge is softened (boxblur: a linear ramp as wide as the feather) and
/// the mask inverted if asked. One per worker: its graphs are used on its thread only.
final class MaskMaker {
    private let regions: Regions
    private let width: Int
    private let height: Int
    /// The clockwise turn from the source's pixels to the output's (for keys).
    private let rotation: Int
    /// The clockwise turn from an upright picture to the output's pixels (for stored masks).
    private let uprightTurn: Int
    private var graph: (key: String, graph: FilterGraph)?

    /// A maker of `width` x `height` masks for `regions`.
    init(regions: Regions, width: Int, height: Int, rotation: Int = 0, uprightTurn: Int = 0) {
        self.regions = regions
        self.width = width
        self.height = height
        self.rotation = rotation
        self.uprightTurn = uprightTurn
    }

    /// The mask for `frame` (the source's frame, which a key is taken from), from `stored`
    /// when the job reads its masks.
    func mask(for frame: Frame, stored: Frame?) throws -> Frame {
        let input = stored ?? frame
        let description = try filters(for: input, stored: stored != nil)
        let key = "\(input.width)x\(input.height):\(input.format.rawValue):\(description)"
        if graph?.key != key {
            graph = (key, try FilterGraph(width: input.width, height: input.height, format: input.format, description: description,
                                          outputFormat: AV_PIX_FMT_GRAY8))
        }
        return try graph!.graph.next(input)
    }

    /// The filter chain from `input` to the final mask.
    private func filters(for input: Frame, stored: Bool) throws -> String {
        // Full range out: a mask's white is 255 whether it was stored as limited-range video or
        // not. An alpha plane is full range already. Bilinear: no ringing along edges.
        let scale = "scale=w=\(width):h=\(height):out_range=full:flags=bilinear"
        let alphaScale = "scale=w=\(width):h=\(height):in_range=full:out_range=full:flags=bilinear"
        var chain: [String]
        if stored {
            chain = Self.turn(uprightTurn) + (Self.hasAlpha(input) ? ["alphaextract", alphaScale] : [scale, "format=gray"])
        } else {
            chain = Self.turn(rotation)
            switch regions.mask {
            case .key(let key):
                let (r, g, b) = try key.rgb()
                // chromakey's 3x3 neighbourhood runs off the left edge into the row before: the
                // frame is keyed with a border of its own edge pixels around it, then cropped.
                chain += ["format=yuva444p", "pad=w=iw+2:h=ih+2:x=1:y=1", "fillborders=left=1:right=1:top=1:bottom=1:mode=smear",
                          String(format: "chromakey=color=0x%02X%02X%02X:similarity=%g:blend=%g", r, g, b, key.similarity, key.blend),
                          "crop=w=iw-2:h=ih-2:x=1:y=1", "alphaextract", alphaScale]
            case .luma(let range):
                let (low, high) = (Int((range.lowerBound * 255).rounded()), Int((range.upperBound * 255).rounded()))
                chain += [scale, "format=gray", "lut=c0='if(between(val,\(low),\(high)),255,0)'"]
            case .file, .supplied:
                throw StylizeError.invalidArgument("no stored mask came with a frame")
            }
        }
        // boxblur's radius may not exceed half the shorter side.
        let radius = min(regions.feather / 2, min(width, height) / 2 - 1)
        if radius > 0 { chain.append("boxblur=luma_radius=\(radius):luma_power=1") }
        if regions.invert { chain.append("negate") }
        return chain.joined(separator: ",")
    }

    /// Whether a stored mask says where the style goes with its alpha: a format with an alpha
    /// channel, or a palette with a transparent colour (an opaque palette picture, as many tools
    /// save black-and-white masks, gives its brightness).
    private static func hasAlpha(_ frame: Frame) -> Bool {
        guard frame.format == AV_PIX_FMT_PAL8 else {
            return (av_pix_fmt_desc_get(frame.format)?.pointee.flags ?? 0) & UInt64(AV_PIX_FMT_FLAG_ALPHA) != 0
        }
        // The palette: 256 native-endian ARGB words.
        guard let palette = frame.pointer.pointee.data.1 else { return false }
        return palette.withMemoryRebound(to: UInt32.self, capacity: 256) { words in (0..<256).contains { words[$0] >> 24 != 0xFF } }
    }

    /// Filters that turn a picture `degrees` clockwise.
    private static func turn(_ degrees: Int) -> [String] {
        switch degrees {
        case 90: return ["transpose=clock"]
        case 180: return ["hflip", "vflip"]
        case 270: return ["transpose=cclock"]
        default: return []
        }
    }
}
