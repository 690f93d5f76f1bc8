/// A number as the command line takes it back exactly: whole numbers without a point, others in
/// the shortest form that reads back as the same value.
func commandLineNumber(_ value: Double) -> String {
    value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : "\(value)"
}
