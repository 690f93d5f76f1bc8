import CFFmpeg
import StylizeKernels

/// How the network reads 4:2:0 frames and writes 8-bit ones itself (`stylize_gather_yuv420` and
/// `stylize_yuv420_from_phases`): the colour matrices for one YUV matrix, range, depth and chroma
/// siting. Covers what decoders and libx264 use for nearly every clip (yuv420p, yuvj420p and
/// 10-bit yuv420p10le in; BT.601, BT.709, BT.2020 non-constant luminance; chroma left or
/// centred); anything else returns nil and goes through swscale.
struct YUV420Conversion: Equatable {
    /// (R, G, B) in [0, 1] = toRGB (3 rows of 4) * (Y, U, V, 1), for values 0...2^depth - 1.
    let toRGB: [Float]
    /// (Y, U, V) = toYUV * (R, G, B, 1).
    let toYUV: [Float]
    /// Chroma samples on the even luma columns ("left"), not halfway between two.
    let chromaCosited: Bool
    /// Bits per sample: 8, or 10 (16-bit words). The network writes 8-bit frames only.
    let depth: Int

    init?(format: AVPixelFormat, colors: VideoColors, chromaLocation: AVChromaLocation) {
        switch format {
        case AV_PIX_FMT_YUV420P, AV_PIX_FMT_YUVJ420P: depth = 8
        case AV_PIX_FMT_YUV420P10LE: depth = 10  // native-endian words on x86-64 and arm64
        default: return nil
        }
        let weights: LumaWeights
        switch colors.matrix {
        case AVCOL_SPC_BT709: weights = .bt709
        case AVCOL_SPC_SMPTE170M, AVCOL_SPC_BT470BG: weights = .bt601
        case AVCOL_SPC_BT2020_NCL: weights = .bt2020
        default: return nil
        }
        switch chromaLocation {
        case AVCHROMA_LOC_UNSPECIFIED, AVCHROMA_LOC_LEFT: chromaCosited = true
        case AVCHROMA_LOC_CENTER: chromaCosited = false
        default: return nil  // sited on a luma row: swscale
        }
        // Full range: luma and chroma span 0...255 (JPEG); limited: luma 16...235, chroma 16...240.
        // Deeper samples: the same codes times 2^(depth - 8), full range spanning 0...2^depth - 1.
        let full = colors.fullRange ?? (format == AV_PIX_FMT_YUVJ420P)
        let step = Float(1 << (depth - 8)), top = Float((1 << depth) - 1), middle = 128 * step
        let (lumaZero, lumaSpan, chromaSpan): (Float, Float, Float) = full ? (0, top, top) : (16 * step, 219 * step, 224 * step)
        let (kr, kg, kb) = (weights.red, weights.green, weights.blue)
        // Y' = kr R + kg G + kb B, Pb = (B - Y') / (2 (1 - kb)), Pr = (R - Y') / (2 (1 - kr)).
        let (rv, bu) = (2 * (1 - kr), 2 * (1 - kb))
        let (gu, gv) = (-bu * kb / kg, -rv * kr / kg)
        let (y, c) = (1 / lumaSpan, 1 / chromaSpan)
        func row(_ u: Float, _ v: Float) -> [Float] { [y, u * c, v * c, -lumaZero * y - middle * (u + v) * c] }
        toRGB = row(0, rv) + row(gu, gv) + row(bu, 0)
        let luma = [kr, kg, kb]
        let pb = [-kr / bu, -kg / bu, (1 - kb) / bu], pr = [(1 - kr) / rv, -kg / rv, -kb / rv]
        toYUV = luma.map { $0 * lumaSpan } + [lumaZero] + pb.map { $0 * chromaSpan } + [middle] + pr.map { $0 * chromaSpan } + [middle]
    }

    /// The conversion for a decoded frame, nil where swscale has to do it.
    init?(of frame: Frame) {
        self.init(format: frame.format, colors: VideoColors(of: frame), chromaLocation: frame.pointer.pointee.chroma_location)
    }

    /// `frame`'s planes as the kernels take them.
    func picture(of frame: Frame) -> stylize_yuv420 {
        let f = frame.pointer.pointee
        return stylize_yuv420(y: f.data.0, u: f.data.1, v: f.data.2, y_stride: Int(f.linesize.0), u_stride: Int(f.linesize.1),
                              v_stride: Int(f.linesize.2), width: f.width, height: f.height, chroma_cosited: chromaCosited ? 1 : 0,
                              depth: Int32(depth))
    }
}
