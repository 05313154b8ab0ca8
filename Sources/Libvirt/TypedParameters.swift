import Clibvirt

/// One value of a libvirt typed parameter (`virTypedParameter`).
/// See also https://libvirt.org/html/libvirt-libvirt-common.html#virTypedParameter
public enum TypedParameterValue: Hashable, Sendable, CustomStringConvertible {
    case int(Int32)
    case uint(UInt32)
    case llong(Int64)
    case ullong(UInt64)
    case double(Double)
    case boolean(Bool)
    case string(String)

    /// The value as an unsigned 64-bit number when it is a non-negative integer.
    public var uint64Value: UInt64? {
        switch self {
        case .int(let v): v >= 0 ? UInt64(v) : nil
        case .uint(let v): UInt64(v)
        case .llong(let v): v >= 0 ? UInt64(v) : nil
        case .ullong(let v): v
        case .double, .boolean, .string: nil
        }
    }

    /// The value as a signed 64-bit number when it is an integer that fits.
    public var int64Value: Int64? {
        switch self {
        case .int(let v): Int64(v)
        case .uint(let v): Int64(v)
        case .llong(let v): v
        case .ullong(let v): v <= UInt64(Int64.max) ? Int64(v) : nil
        case .double, .boolean, .string: nil
        }
    }

    public var stringValue: String? {
        if case .string(let v) = self { return v }
        return nil
    }

    public var boolValue: Bool? {
        if case .boolean(let v) = self { return v }
        return nil
    }

    public var description: String {
        switch self {
        case .int(let v): "\(v)"
        case .uint(let v): "\(v)"
        case .llong(let v): "\(v)"
        case .ullong(let v): "\(v)"
        case .double(let v): "\(v)"
        case .boolean(let v): "\(v)"
        case .string(let v): v
        }
    }
}

/// Converts between libvirt's C typed parameter arrays and Swift dictionaries.
enum TypedParameters {
    /// Reads `count` parameters; unknown types are skipped.
    static func decode(_ params: UnsafeMutablePointer<virTypedParameter>?, count: Int32) -> [String: TypedParameterValue] {
        guard let params, count > 0 else { return [:] }
        var result: [String: TypedParameterValue] = [:]
        for index in 0..<Int(count) {
            var param = params[index]
            let name = withUnsafeBytes(of: &param.field) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            let value: TypedParameterValue?
            switch Int32(param.type) {
            case Int32(VIR_TYPED_PARAM_INT.rawValue): value = .int(param.value.i)
            case Int32(VIR_TYPED_PARAM_UINT.rawValue): value = .uint(param.value.ui)
            case Int32(VIR_TYPED_PARAM_LLONG.rawValue): value = .llong(param.value.l)
            case Int32(VIR_TYPED_PARAM_ULLONG.rawValue): value = .ullong(param.value.ul)
            case Int32(VIR_TYPED_PARAM_DOUBLE.rawValue): value = .double(param.value.d)
            case Int32(VIR_TYPED_PARAM_BOOLEAN.rawValue): value = .boolean(param.value.b != 0)
            case Int32(VIR_TYPED_PARAM_STRING.rawValue): value = param.value.s.map { .string(String(cString: $0)) }
            default: value = nil
            }
            if let value { result[name] = value }
        }
        return result
    }

    /// Builds a C array for `parameters` with libvirt's `virTypedParamsAdd*`,
    /// calls `body` with it, then frees it (`virTypedParamsFree`).
    static func withEncoded<R>(
        _ parameters: [String: TypedParameterValue],
        _ body: (UnsafeMutablePointer<virTypedParameter>?, Int32) -> R
    ) throws(LibvirtError) -> R {
        LibvirtRuntime.ensureInitialized()
        var params: UnsafeMutablePointer<virTypedParameter>? = nil
        var count: Int32 = 0
        var capacity: Int32 = 0
        defer { virTypedParamsFree(params, count) }
        for (name, value) in parameters.sorted(by: { $0.key < $1.key }) {
            let status: Int32
            switch value {
            case .int(let v): status = virTypedParamsAddInt(&params, &count, &capacity, name, v)
            case .uint(let v): status = virTypedParamsAddUInt(&params, &count, &capacity, name, v)
            case .llong(let v): status = virTypedParamsAddLLong(&params, &count, &capacity, name, v)
            case .ullong(let v): status = virTypedParamsAddULLong(&params, &count, &capacity, name, v)
            case .double(let v): status = virTypedParamsAddDouble(&params, &count, &capacity, name, v)
            case .boolean(let v): status = virTypedParamsAddBoolean(&params, &count, &capacity, name, v ? 1 : 0)
            case .string(let v): status = virTypedParamsAddString(&params, &count, &capacity, name, v)
            }
            try check(status)
        }
        return body(params, count)
    }
}
