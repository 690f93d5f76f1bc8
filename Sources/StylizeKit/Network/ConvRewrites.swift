/// Convs rewritten to compute the same function in shapes that suit oneDNN's kernels better:
/// fewer pixels, more channels. `TransformerPlan` uses them for the transformer's full-resolution
/// layers, whose 3 or 8 channels waste most of each vector of a generic kernel.
extension ConvSpec {
    /// This 3x3 conv applied after a nearest x2 upsampling and a reflect pad of 1, rewritten to
    /// run at the low resolution: reflecting the upsampled picture by one pixel repeats the edge
    /// of the small one, and each of the four output phases (py, px) sees a 2x2 window of the
    /// small picture (edge-padded by 1) with its taps summed. The four phases' kernels, embedded
    /// in 3x3, become one conv with 4x the output channels, phase (py, px) at channels
    /// (py * 2 + px) * O ..< +O. A quarter of the pixels with 4x the channels suits oneDNN's
    /// kernels far better than 8 or 16 channels at full resolution.
    func nearestUpsampledPhases() throws -> ConvSpec {
        guard kernelHeight == 3, kernelWidth == 3, groups == 1, strides == [1, 1] else {
            throw StylizeError.modelDamaged(path: "transformer", reason: "\(name) is not a 3x3 stride-1 conv")
        }
        // mix[phase][tap'][tap]: which original taps land on each tap of the phase kernel.
        let mix: [[[Float]]] = [
            [[1, 0, 0], [0, 1, 1], [0, 0, 0]],  // phase 0: rows a-1, a, a  -> taps 0, 1
            [[0, 0, 0], [1, 1, 0], [0, 0, 1]],  // phase 1: rows a, a, a+1  -> taps 1, 2
        ]
        let (o, i) = (outputChannels, inputChannels)
        var values = [Float](repeating: 0, count: 4 * o * i * 9)
        for py in 0..<2 {
            for px in 0..<2 {
                for oc in 0..<o {
                    for ic in 0..<i {
                        let from = (oc * i + ic) * 9, to = (((py * 2 + px) * o + oc) * i + ic) * 9
                        for ky2 in 0..<3 {
                            for kx2 in 0..<3 {
                                var sum: Float = 0
                                for ky in 0..<3 where mix[py][ky2][ky] != 0 {
                                    for kx in 0..<3 where mix[px][kx2][kx] != 0 {
                                        sum += weights.values[from + ky * 3 + kx]
                                    }
                                }
                                values[to + ky2 * 3 + kx2] = sum
                            }
                        }
                    }
                }
            }
        }
        var spec = self
        spec.weights = FloatTensor(shape: [4 * o, i, 3, 3], values: values)
        spec.bias = Array(repeatElement(bias, count: 4).joined())
        (spec.padTop, spec.padLeft, spec.padBottom, spec.padRight) = (0, 0, 0, 0)
        return spec
    }

    /// This stride-1 VALID conv (a K x K kernel) rewritten space-to-depth: input and output
    /// stored with `block` x `block` pixels per stored pixel (channel offset
    /// ((y % block) * block + x % block) * C), so the conv runs on 1/block^2 of the pixels with
    /// block^2 times the channels. Output phase (py, px) reading input phase (qy, qx) at stored
    /// offset (dy, dx) uses original tap (block * dy + qy - py, block * dx + qx - px), or 0
    /// where that falls outside the kernel. Needs K - 1 to be a multiple of `block`, so that the
    /// new kernel, (K - 1) / block + 1 taps wide, maps a padded input of a multiple of `block`
    /// to an output of a multiple of `block`.
    func spaceToDepth(_ block: Int) throws -> ConvSpec {
        let k = kernelHeight
        guard kernelWidth == k, groups == 1, strides == [1, 1], (k - 1) % block == 0,
              padTop == 0, padLeft == 0, padBottom == 0, padRight == 0 else {
            throw StylizeError.modelDamaged(path: "transformer", reason: "\(name) cannot run space-to-depth")
        }
        let taps = (k - 1) / block + 1, (o, i) = (outputChannels, inputChannels)
        let (o2, i2) = (o * block * block, i * block * block)
        var values = [Float](repeating: 0, count: o2 * i2 * taps * taps)
        for py in 0..<block {
            for px in 0..<block {
                for qy in 0..<block {
                    for qx in 0..<block {
                        for dy in 0..<taps {
                            for dx in 0..<taps {
                                let ky = block * dy + qy - py, kx = block * dx + qx - px
                                guard (0..<k).contains(ky), (0..<k).contains(kx) else { continue }
                                for oc in 0..<o {
                                    for ic in 0..<i {
                                        let to = (((py * block + px) * o + oc) * i2 + (qy * block + qx) * i + ic) * taps * taps + dy * taps + dx
                                        values[to] = weights.values[((oc * i + ic) * k + ky) * k + kx]
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
        var spec = self
        spec.weights = FloatTensor(shape: [o2, i2, taps, taps], values: values)
        spec.bias = Array(repeatElement(bias, count: block * block).joined())
        return spec
    }
}
