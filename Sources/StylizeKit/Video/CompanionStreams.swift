import CFFmpeg
import Foundation

/// What a job does with the input's audio: copy it where the container takes it (the default),
/// re-encode it, or leave it out.
public struct AudioOptions: Sendable, Equatable {
    /// Leave every audio stream out.
    public var drop = false
    /// Re-encode every audio stream with this encoder (FFmpeg name: aac, libopus, libmp3lame,
    /// flac, ...).
    public var codec: String?
    /// Re-encode every audio stream at this many bits per second, with `codec` or the
    /// container's default audio codec.
    public var bitRate: Int?

    /// Options with each value given; the defaults copy the sound as it is.
    public init(drop: Bool = false, codec: String? = nil, bitRate: Int? = nil) {
        self.drop = drop
        self.codec = codec
        self.bitRate = bitRate
    }
}

/// The audio and subtitle streams of an input, carried into an output beside its video:
/// copied packet for packet, or (audio the container cannot hold, or that MP4 players would
/// not play) re-encoded to the container's own default codec. Shared by a clip job's writer
/// and by `join`, so both treat the source's other streams the same way.
final class CompanionStreams {
    private let muxer: Muxer
    /// One line per input stream other than the video: copied, re-encoded, or left out and why.
    private(set) var notes: [String] = []
    /// Input stream index -> output stream index, for copied streams.
    private var streamMap: [Int32: Int32] = [:]
    /// Input stream index -> its re-encoder, for audio the container cannot hold as it is.
    private var transcoders: [Int32: AudioTranscoder] = [:]

    /// What is asked of the audio.
    private let audio: AudioOptions

    /// Adds an output stream for each audio and subtitle stream the container takes; everything
    /// else is left out with a note. Call before the muxer writes its header.
    init(from reader: VideoReader, into muxer: Muxer, audio: AudioOptions = .init()) throws {
        self.muxer = muxer
        self.audio = audio
        let demuxer = reader.demuxer
        for index in 0..<Int32(demuxer.context.pointee.nb_streams) where index != reader.videoIndex {
            let stream = demuxer.stream(index)
            let parameters = stream.pointee.codecpar.pointee
            let kind = av_get_media_type_string(parameters.codec_type).map { String(cString: $0) } ?? "data"
            let codec = String(cString: avcodec_get_name(parameters.codec_id))
            guard parameters.codec_type == AVMEDIA_TYPE_AUDIO || parameters.codec_type == AVMEDIA_TYPE_SUBTITLE else {
                notes.append("\(kind) stream \(index) (\(codec)): left out, only audio and subtitles are carried over")
                continue
            }
            if parameters.codec_type == AVMEDIA_TYPE_AUDIO {
                if audio.drop {
                    notes.append("audio stream \(index) (\(codec)): left out, as asked")
                    continue
                }
                if audio.codec != nil || audio.bitRate != nil || !Self.copiesAudio(parameters.codec_id, into: muxer) {
                    try addTranscodedAudio(stream, index: index, reader: reader)
                    continue
                }
            }
            guard muxer.accepts(parameters.codec_id) else {
                notes.append("subtitle stream \(index) (\(codec)): left out, \(String(cString: muxer.format.pointee.name)) cannot hold it")
                continue
            }
            let out = try muxer.addStream()
            try ffmpegCheck(avcodec_parameters_copy(out.pointee.codecpar, stream.pointee.codecpar), "avcodec_parameters_copy")
            out.pointee.codecpar.pointee.codec_tag = 0
            out.pointee.time_base = stream.pointee.time_base
            out.pointee.disposition = stream.pointee.disposition
            av_dict_copy(&out.pointee.metadata, stream.pointee.metadata, 0)
            streamMap[index] = out.pointee.index
            reader.copiedStreams.insert(index)
            notes.append("\(kind) stream \(index) (\(codec)): copied")
        }
    }

    /// MP4 and MOV players reliably play only these audio codecs; FFmpeg would also mux MP2,
    /// Vorbis and others there, but many players then stay silent.
    static let playableInMP4: Set<UInt32> = [AV_CODEC_ID_AAC, AV_CODEC_ID_MP3, AV_CODEC_ID_AC3, AV_CODEC_ID_EAC3,
                                             AV_CODEC_ID_ALAC, AV_CODEC_ID_OPUS, AV_CODEC_ID_FLAC].map(\.rawValue).reduce(into: []) { $0.insert($1) }

    /// Whether an audio stream of `codec` goes into the output as it is.
    static func copiesAudio(_ codec: AVCodecID, into muxer: Muxer) -> Bool {
        guard muxer.accepts(codec) else { return false }
        return !Muxer.formatsWithRotation.contains(String(cString: muxer.format.pointee.name)) || playableInMP4.contains(codec.rawValue)
    }

    /// Audio is re-encoded with the encoder asked for, else (a bit rate asked for, or a codec the
    /// container rejects) to the container's own default (AAC for MP4/MOV, Opus for WebM). It
    /// is left out only for containers that hold no audio at all (GIF, picture sequences).
    private func addTranscodedAudio(_ stream: UnsafeMutablePointer<AVStream>, index: Int32, reader: VideoReader) throws {
        let container = String(cString: muxer.format.pointee.name)
        let from = String(cString: avcodec_get_name(stream.pointee.codecpar.pointee.codec_id))
        let codec: UnsafePointer<AVCodec>
        if let name = audio.codec {
            guard let found = avcodec_find_encoder_by_name(name), found.pointee.type == AVMEDIA_TYPE_AUDIO else {
                throw StylizeError.invalidArgument("no audio encoder named \(name) in this FFmpeg (aac, libopus, libmp3lame, flac, ...)")
            }
            guard muxer.accepts(found.pointee.id) else {
                throw StylizeError.invalidArgument("\(name) audio cannot go into \(container); choose another audio codec or container")
            }
            codec = found
        } else {
            let target = muxer.format.pointee.audio_codec
            guard target != AV_CODEC_ID_NONE else {
                notes.append("audio stream \(index) (\(from)): left out, \(container) holds no audio")
                return
            }
            guard muxer.accepts(target), let found = avcodec_find_encoder(target) else {
                throw StylizeError.invalidArgument("\(container) cannot hold \(from) audio nor re-encoded audio; choose another container, or leave the audio out")
            }
            codec = found
        }
        let out = try muxer.addStream()
        let muxer = self.muxer, outIndex = out.pointee.index
        let transcoder = try AudioTranscoder(stream: stream, codec: codec, bitRate: audio.bitRate, globalHeader: muxer.wantsGlobalHeader) { packet in
            try muxer.write(packet, stream: outIndex, timeBase: packet.pointer.pointee.time_base)
        }
        try ffmpegCheck(avcodec_parameters_from_context(out.pointee.codecpar, transcoder.encoder.context), "avcodec_parameters_from_context")
        out.pointee.time_base = transcoder.encoder.context.pointee.time_base
        out.pointee.disposition = stream.pointee.disposition
        av_dict_copy(&out.pointee.metadata, stream.pointee.metadata, 0)
        transcoders[index] = transcoder
        reader.copiedStreams.insert(index)
        let bits = transcoder.encoder.context.pointee.bit_rate
        notes.append("audio stream \(index) (\(from)): re-encoded to \(transcoder.codecName)" + (bits > 0 ? " at \(bits / 1000) kb/s" : "")
                     + " for \(container)")
    }

    /// Writes a packet of input stream `stream` (moved into the output's time like the frames);
    /// packets of streams left out are dropped.
    func write(_ packet: Packet, stream: Int32) throws {
        if let transcoder = transcoders[stream] { return try transcoder.transcode(packet) }
        guard let out = streamMap[stream] else { return }
        try muxer.write(packet, stream: out, timeBase: packet.pointer.pointee.time_base)
    }

    /// Flushes the re-encoders.
    func finish() throws {
        for transcoder in transcoders.values { try transcoder.finish() }
    }
}
