import CFFmpeg
import Foundation

/// What `join` did.
package struct JoinSummary: Sendable, Codable {
    public var output: String
    public var pieces: Int
    public var frames: Int
    /// One line per stream: the video copied from the pieces, the source's other streams.
    public var streams: [String]
    public var seconds: Double
}

/// Puts together the pieces of a split clip job (`JobOptions.frames`) into one file without
/// re-encoding: the pieces' video packets in order, with the source's audio, subtitles,
/// metadata and display rotation carried over once, the way a single-process job carries them.
///
/// Refuses pieces that leave a frame out, hold one twice, were made with different settings,
/// or whose encoders differ (their packets could not share one stream).
package enum PieceJoiner {
    /// Joins `pieces` (in any order) into `output`, taking everything but the video from
    /// `source`, the clip the pieces were made from. Writes atomically, like every job.
    public static func join(pieces paths: [String], source: String, output: String, outputFormat: String? = nil,
                            overwrite: Bool = false) throws -> JoinSummary {
        let started = Date()
        guard !paths.isEmpty else { throw StylizeError.invalidArgument("join needs at least one piece") }
        let pieces = try paths.map(Piece.init(path:)).sorted { $0.frames.lowerBound < $1.frames.lowerBound }
        let first = pieces[0]
        for piece in pieces.dropFirst() {
            guard piece.signature == first.signature else {
                throw StylizeError.invalidArgument("\(piece.path) was made with other settings than \(first.path) (\(piece.signature) against \(first.signature))")
            }
            guard piece.sameStream(as: first) else {
                throw StylizeError.invalidArgument("\(piece.path) holds another kind of video than \(first.path) (codec, size or encoder headers differ)")
            }
        }
        let index = try VideoFrameIndex(path: source)
        try checkCoverage(pieces, frames: index.count, source: source)

        let reader = try VideoReader(path: source, formatName: nil, start: nil, duration: nil)
        reader.skipVideo()
        let muxer = try Muxer(destination: output, formatName: outputFormat, overwrite: overwrite)
        let sourceVideo = reader.videoStream
        let rotation = VideoWriter.displayRotation(of: sourceVideo)
        if rotation != 0 && !Muxer.formatsWithRotation.contains(String(cString: muxer.format.pointee.name)) {
            throw StylizeError.invalidArgument("the source is turned \(rotation) degrees, which \(String(cString: muxer.format.pointee.name)) cannot store without re-encoding: join into .mp4 or .mov")
        }
        let video = try muxer.addStream()
        let pieceStream = first.demuxer.stream(first.videoIndex)
        try ffmpegCheck(avcodec_parameters_copy(video.pointee.codecpar, pieceStream.pointee.codecpar), "avcodec_parameters_copy")
        video.pointee.codecpar.pointee.codec_tag = 0
        // The source's time base, as a single-process job's encoder has it (the same timestamps).
        video.pointee.time_base = sourceVideo.pointee.time_base
        let frameRate = av_guess_frame_rate(reader.demuxer.context, sourceVideo, nil)
        video.pointee.avg_frame_rate = frameRate
        video.pointee.r_frame_rate = frameRate
        video.pointee.sample_aspect_ratio = pieceStream.pointee.codecpar.pointee.sample_aspect_ratio
        video.pointee.disposition = sourceVideo.pointee.disposition
        av_dict_copy(&video.pointee.metadata, sourceVideo.pointee.metadata, 0)
        try VideoWriter.copySideData(from: sourceVideo, to: video, skipping: [])
        av_dict_copy(&muxer.context.pointee.metadata, reader.demuxer.context.pointee.metadata, 0)
        let companions = try CompanionStreams(from: reader, into: muxer)
        try muxer.writeHeader()

        // Video packets piece after piece, interleaved with the source's other packets by time.
        var pending = try reader.next()
        var written = 0
        do {
            for piece in pieces {
                var count = 0
                while let packet = try piece.nextVideoPacket() {
                    let time = seconds(packet.pointer.pointee.dts, packet.pointer.pointee.pts, piece.timeBase)
                    while case .packet(let other, let stream)? = pending,
                          seconds(other.pointer.pointee.dts, other.pointer.pointee.pts, other.pointer.pointee.time_base) <= time {
                        try companions.write(other, stream: stream)
                        pending = try reader.next()
                    }
                    try muxer.write(packet, stream: video.pointee.index, timeBase: piece.timeBase)
                    count += 1
                }
                guard count == piece.frames.count else {
                    throw StylizeError.invalidArgument("\(piece.path) says it holds frames \(piece.frames.lowerBound)..\(piece.frames.upperBound) but has \(count) frames: it is damaged; make it again")
                }
                written += count
            }
            while case .packet(let other, let stream)? = pending {
                try companions.write(other, stream: stream)
                pending = try reader.next()
            }
            try companions.finish()
            try muxer.finish()
        } catch {
            muxer.abandon()
            throw error
        }
        let codec = String(cString: avcodec_get_name(pieceStream.pointee.codecpar.pointee.codec_id))
        return JoinSummary(output: output, pieces: pieces.count, frames: written,
                           streams: ["video: \(codec) copied from \(pieces.count) pieces"] + companions.notes,
                           seconds: Date().timeIntervalSince(started))
    }

    /// Seconds of a packet's decoding time (its presentation time when it has none).
    private static func seconds(_ dts: Int64, _ pts: Int64, _ timeBase: AVRational) -> Double {
        let ts = dts != cffmpeg_nopts_value() ? dts : pts
        return ts == cffmpeg_nopts_value() ? -.infinity : Double(ts) * av_q2d(timeBase)
    }

    /// Every frame of the source in exactly one piece.
    static func checkCoverage(_ sorted: [Piece], frames total: Int, source: String) throws {
        var next = 0
        for piece in sorted {
            if piece.frames.lowerBound > next {
                throw StylizeError.invalidArgument("frames \(next)..\(piece.frames.lowerBound) of \(source) are in no piece")
            }
            if piece.frames.lowerBound < next {
                throw StylizeError.invalidArgument("frames \(piece.frames.lowerBound)..\(min(next, piece.frames.upperBound)) are in more than one piece (\(piece.path) and the one before it)")
            }
            next = piece.frames.upperBound
        }
        if next != total {
            throw StylizeError.invalidArgument(next < total
                ? "frames \(next)..\(total) of \(source) are in no piece"
                : "the pieces hold frames up to \(next), but \(source) has \(total) frames: are they pieces of another clip?")
        }
    }

    /// One piece: its frames, settings and video stream.
    final class Piece {
        let path: String
        let demuxer: Demuxer
        let videoIndex: Int32
        let frames: Range<Int>
        let signature: String
        private let packet: Packet

        init(path: String) throws {
            self.path = path
            demuxer = try Demuxer(path: path)
            videoIndex = try demuxer.bestVideoStream().index
            let tags = demuxer.context.pointee.metadata
            func tag(_ key: String) -> String? { av_dict_get(tags, key, nil, 0).map { String(cString: $0.pointee.value) } }
            guard let range = tag(PieceTags.frames), let frames = parseFrameRange(range) else {
                throw StylizeError.invalidArgument("\(path) is not a piece of a split job")
            }
            self.frames = frames
            signature = tag(PieceTags.options) ?? ""
            packet = try Packet()
        }

        var timeBase: AVRational { demuxer.stream(videoIndex).pointee.time_base }

        /// Same codec, size, pixel format and encoder headers (extradata).
        func sameStream(as other: Piece) -> Bool {
            let a = demuxer.stream(videoIndex).pointee.codecpar.pointee, b = other.demuxer.stream(other.videoIndex).pointee.codecpar.pointee
            guard a.codec_id == b.codec_id, a.width == b.width, a.height == b.height, a.format == b.format,
                  a.extradata_size == b.extradata_size else { return false }
            guard a.extradata_size > 0 else { return true }
            return memcmp(a.extradata, b.extradata, Int(a.extradata_size)) == 0
        }

        /// The next video packet (a new object the caller owns), or nil at the end.
        func nextVideoPacket() throws -> Packet? {
            while try demuxer.read(into: packet) {
                if packet.pointer.pointee.stream_index != videoIndex { packet.unref(); continue }
                let copy = try Packet()
                av_packet_move_ref(copy.pointer, packet.pointer)
                return copy
            }
            return nil
        }
    }
}
