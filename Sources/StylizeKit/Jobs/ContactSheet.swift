import Foundation

/// A labelled grid of one picture in several styles and strengths: one row per style, one
/// column per strength, to choose a style by looking rather than reading.
public struct ContactSheetOptions: Sendable {
    /// The strengths of the columns, left to right (each 0...1).
    public var strengths: [Double] = [0.25, 0.5, 0.75, 1]
    /// Shorter side at which the network runs (the brush scale); nil: the picture's own size.
    public var processingSize: Int?
    /// The network's precision (`.auto`: what measures fastest here).
    public var precision: Precision = .auto
    /// Width of each cell in the sheet, in pixels.
    public var cellWidth: Int = 320
    /// Keep the picture's own colours in every cell (see `ImageStylizationOptions.preserveColors`).
    public var preserveColors = false
    /// Where the style goes in every cell, when a mask decides it (one outside style, no keyframes).
    public var regions: Regions?

    /// Four strengths, 320-pixel cells, the picture's own size and colours.
    public init() {}
}

extension Stylizer {
    /// Renders the sheet. `styles` are (label, vector) pairs, one row each.
    public func contactSheet(of content: Picture, styles: [(label: String, vector: StyleVector)],
                             options: ContactSheetOptions) throws -> Picture {
        guard !styles.isEmpty else { throw StylizeError.invalidArgument("a sheet needs at least one style") }
        guard !options.strengths.isEmpty, options.strengths.allSatisfy({ (0...1).contains($0) }) else {
            throw StylizeError.invalidArgument("strengths must be between 0 and 1")
        }
        guard options.cellWidth >= 32 else { throw StylizeError.invalidArgument("cells must be at least 32 pixels wide") }
        let worker = try makeWorker(precision: options.precision)
        let identity = options.strengths.contains { $0 < 1 } ? try styleVector(for: content) : nil
        let masked = try options.regions.map { try maskedCells($0, of: content, options: options, worker: worker) }
        let cellWidth = options.cellWidth
        let cellHeight = max(1, Int((Double(content.height) * Double(cellWidth) / Double(content.width)).rounded()))
        let (gap, labelWidth, headerHeight, fontSize) = (8, 200, 40, 18)
        let width = labelWidth + options.strengths.count * (cellWidth + gap) + gap
        let height = headerHeight + styles.count * (cellHeight + gap) + gap
        var samples = [UInt16](repeating: 0x2020, count: width * height * 3)
        var labels: [LabelPainter.Label] = []
        for (column, strength) in options.strengths.enumerated() {
            labels.append(.init(String(format: "strength %.2f", strength), x: labelWidth + column * (cellWidth + gap) + 4,
                                y: (headerHeight - fontSize) / 2, size: fontSize))
        }
        for (row, style) in styles.enumerated() {
            let top = headerHeight + row * (cellHeight + gap)
            labels.append(.init(String(style.label.prefix(20)), x: gap, y: top + (cellHeight - fontSize) / 2, size: fontSize))
            for (column, strength) in options.strengths.enumerated() {
                let vector = try identity.map { try style.vector.blended(towards: $0, strength: strength) } ?? style.vector
                var stylized = try stylize(content, conditioning: transformer.conditioning(for: vector),
                                           processingSize: options.processingSize,
                                           preserveColors: options.preserveColors, worker: worker)
                if let masked { stylized = try masked.regions.blend(stylized, outside: masked.outside, original: content, stored: masked.stored) }
                let cell = try stylized.resized(width: cellWidth, height: cellHeight)
                let left = labelWidth + column * (cellWidth + gap)
                for y in 0..<cellHeight {
                    let target = ((top + y) * width + left) * 3, source = y * cellWidth * 3
                    samples.replaceSubrange(target..<(target + cellWidth * 3), with: cell.samples[source..<(source + cellWidth * 3)])
                }
            }
        }
        return try LabelPainter.paint(labels, on: Picture(width: width, height: height, samples: samples))
    }

    /// What every cell's mask needs, made once: the stored mask and the outside's picture.
    private func maskedCells(_ regions: Regions, of content: Picture, options: ContactSheetOptions,
                             worker: TransformerWorker) throws -> (regions: Regions, stored: Frame?, outside: Picture) {
        try regions.validate()
        let outside: Picture
        switch regions.outside {
        case .original:
            outside = content
        case .style(let spec, let strength):
            outside = try stylize(content, style: styleVector(for: spec), options: ImageStylizationOptions(
                processingSize: options.processingSize, strength: strength, precision: options.precision, preserveColors: options.preserveColors),
                worker: worker)
        case .keyframes:
            throw StylizeError.invalidArgument("a sheet takes one outside style, not keyframes")
        }
        return (regions, try MaskReader(regions.mask)?.mask(index: 0, seconds: 0), outside)
    }
}

/// A grid of one picture in many styles, each cell labelled underneath: `stylize styles --sheet`.
public struct StyleGridOptions: Sendable {
    /// Cells per row.
    public var columns = 4
    /// Width of each cell, in pixels.
    public var cellWidth = 256
    /// Shorter side at which the network runs (the brush scale); nil: the picture's own size.
    public var processingSize: Int?
    /// The network's precision (`.auto`: what measures fastest here).
    public var precision: Precision = .auto
    /// Keep the picture's own colours in every cell.
    public var preserveColors = false
    /// Put the picture itself first, labelled "original".
    public var includeOriginal = true

    /// Four 256-pixel cells a row, the picture first, at its own size and in the styles' colours.
    public init() {}
}

extension Stylizer {
    /// Renders the grid. `styles` are (label, vector) pairs, one cell each, in reading order.
    public func styleGrid(of content: Picture, styles: [(label: String, vector: StyleVector)],
                          options: StyleGridOptions = .init()) throws -> Picture {
        guard !styles.isEmpty else { throw StylizeError.invalidArgument("a grid needs at least one style") }
        guard options.columns >= 1, options.cellWidth >= 32 else {
            throw StylizeError.invalidArgument("a grid needs at least one column and cells at least 32 pixels wide")
        }
        let worker = try makeWorker(precision: options.precision)
        let (cellWidth, gap, labelHeight, fontSize) = (options.cellWidth, 8, 28, 16)
        let cellHeight = max(1, Int((Double(content.height) * Double(cellWidth) / Double(content.width)).rounded()))
        let count = styles.count + (options.includeOriginal ? 1 : 0)
        let columns = min(options.columns, count), rows = (count + columns - 1) / columns
        let width = gap + columns * (cellWidth + gap), height = gap + rows * (cellHeight + labelHeight + gap)
        var samples = [UInt16](repeating: 0x2020, count: width * height * 3)
        var labels: [LabelPainter.Label] = []
        func place(_ picture: Picture, label: String, at index: Int) throws {
            let cell = try picture.resized(width: cellWidth, height: cellHeight)
            let left = gap + (index % columns) * (cellWidth + gap), top = gap + (index / columns) * (cellHeight + labelHeight + gap)
            for y in 0..<cellHeight {
                let target = ((top + y) * width + left) * 3, source = y * cellWidth * 3
                samples.replaceSubrange(target..<(target + cellWidth * 3), with: cell.samples[source..<(source + cellWidth * 3)])
            }
            labels.append(.init(String(label.prefix(max(4, cellWidth / 9))), x: left + 2, y: top + cellHeight + (labelHeight - fontSize) / 2, size: fontSize))
        }
        var index = 0
        if options.includeOriginal {
            try place(content, label: "original", at: 0)
            index = 1
        }
        for style in styles {
            let stylized = try stylize(content, conditioning: transformer.conditioning(for: style.vector), processingSize: options.processingSize,
                                       preserveColors: options.preserveColors, worker: worker)
            try place(stylized, label: style.label, at: index)
            index += 1
        }
        return try LabelPainter.paint(labels, on: Picture(width: width, height: height, samples: samples))
    }
}
