/// A value passed from one stage to the next, which takes it out: after `take()` the stage that
/// made it holds no reference to it, so the taker owns it alone and can change it in place (an
/// image's pixel array is then not copied on its first write).
///
/// Sendable, unchecked, by the same hand-over as `Frame`: the stage that makes it never touches
/// it again, and exactly one later stage takes the value, once.
final class Handover<Value: Sendable>: @unchecked Sendable {
    private var value: Value?

    init(_ value: Value) { self.value = value }

    /// The value, which this handover no longer holds.
    func take() -> Value {
        guard let taken = value.take() else { preconditionFailure("a handover is taken once") }
        return taken
    }
}
