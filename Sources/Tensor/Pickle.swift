import Foundation

// A Python pickle reader for the subset torch.save writes (protocols 2 to 5), built to read checkpoints that
// libtorch's own unpickler rejects (an OrderedDict carrying `_metadata`). It never executes anything: a
// GLOBAL is kept as a name, and only the calls a checkpoint needs are interpreted (`resolve` in
// TorchCheckpoint.swift); anything else is kept as an opaque object.

/// A value produced by the unpickler.
public indirect enum PickleValue {
  case none
  case bool(Bool)
  case int(Int)
  case float(Double)
  case string(String)
  case bytes([UInt8])
  case tuple([PickleValue])
  case list(PickleList)
  case dict(PickleDict)
  /// A global such as `collections.OrderedDict`.
  case global(module: String, name: String)
  /// The result of calling `callable(arguments)`, interpreted by the caller's reducer.
  case object(PickleObject)
  /// A tensor built by the reducer.
  case tensor(Tensor)
  /// A persistent id (torch storages): the raw tuple.
  case persistent(PickleValue)

  public var stringValue: String? { if case .string(let s) = self { return s } else { return nil } }
  public var intValue: Int? {
    switch self {
    case .int(let i): return i
    case .bool(let b): return b ? 1 : 0
    default: return nil
    }
  }
  public var tupleValue: [PickleValue]? {
    switch self {
    case .tuple(let t): return t
    case .list(let l): return l.items
    default: return nil
    }
  }
}

public final class PickleList { public var items: [PickleValue] = [] }
public final class PickleDict {
  public var entries: [(key: PickleValue, value: PickleValue)] = []
  /// State attached by BUILD (an OrderedDict's `_metadata`, for example).
  public var state: PickleValue?
}
public final class PickleObject {
  public let callable: PickleValue
  public let arguments: [PickleValue]
  public var state: PickleValue?
  init(callable: PickleValue, arguments: [PickleValue]) {
    self.callable = callable
    self.arguments = arguments
  }
}

public struct PickleError: Error, LocalizedError {
  public let message: String
  public var errorDescription: String? { message }
}

/// Reads one pickle. `reduce` may turn a call into a value (return nil to keep it as `.object`);
/// `persistentLoad` resolves persistent ids (BINPERSID).
public struct Unpickler {
  public var reduce: (PickleValue, [PickleValue]) throws -> PickleValue? = { _, _ in nil }
  public var persistentLoad: (PickleValue) throws -> PickleValue = { .persistent($0) }

  public init() {}

  private enum StackItem { case value(PickleValue), mark }

  /// The deepest nesting of containers a loaded value may have, and how many container visits checking it may take
  /// per input byte (a pickle can share one value many times through its memo).
  public static let maxDepth = 1000
  static let visitsPerByte = 16

  /// Reads one pickle. Runs on its own thread, whose stack grows with the input: a hostile pickle can nest values
  /// deeper than any fixed stack survives when they are freed (200,000 one-tuples take 200 KB), so the value is
  /// built, checked (depth at most `maxDepth`, a bounded number of visits) and, when refused, freed there.
  public func load(_ bytes: [UInt8]) throws -> PickleValue {
    final class Outcome: @unchecked Sendable { var result: Result<PickleValue, Error>? }
    let outcome = Outcome(), done = DispatchSemaphore(value: 0)
    nonisolated(unsafe) let unpickler = self
    let thread = Thread {
      outcome.result = Result {
        let value = try unpickler.parse(bytes)
        try Self.checkNesting(value, visits: Swift.max(1 << 16, bytes.count * Self.visitsPerByte))
        return value
      }
      done.signal()
    }
    thread.stackSize = Swift.min(Swift.max(16 << 20, bytes.count * 1024), 8 << 30)  // reserved, used only as deep as needed
    thread.start()
    done.wait()
    return try outcome.result!.get()
  }

  /// Refuses a value nested deeper than `maxDepth` or whose check takes more than `visits` steps (shared values
  /// counted once per path), without recursion.
  static func checkNesting(_ root: PickleValue, visits: Int) throws {
    var work: [(PickleValue, Int)] = [(root, 0)], seen = Set<ObjectIdentifier>(), count = 0
    while let (value, depth) = work.popLast() {
      count += 1
      guard count <= visits else { throw PickleError(message: "pickle: too many shared references to check (over \(visits))") }
      guard depth <= maxDepth else { throw PickleError(message: "pickle: values nested deeper than \(maxDepth)") }
      switch value {
      case .tuple(let items): work += items.map { ($0, depth + 1) }
      case .list(let l): if seen.insert(ObjectIdentifier(l)).inserted { work += l.items.map { ($0, depth + 1) } }
      case .dict(let d):
        if seen.insert(ObjectIdentifier(d)).inserted {
          for entry in d.entries { work += [(entry.key, depth + 1), (entry.value, depth + 1)] }
          if let state = d.state { work.append((state, depth + 1)) }
        }
      case .object(let o):
        if seen.insert(ObjectIdentifier(o)).inserted {
          work += ([o.callable] + o.arguments + (o.state.map { [$0] } ?? [])).map { ($0, depth + 1) }
        }
      case .persistent(let inner): work.append((inner, depth + 1))
      default: break
      }
    }
  }

  private func parse(_ bytes: [UInt8]) throws -> PickleValue {
    var position = 0
    var stack: [StackItem] = []
    var memo: [Int: PickleValue] = [:]

    func fail(_ text: String) -> PickleError { PickleError(message: "pickle: \(text) at byte \(position)") }
    func read(_ n: Int) throws -> ArraySlice<UInt8> {
      guard n >= 0, n <= bytes.count - position else { throw fail("unexpected end of data") }
      defer { position += n }
      return bytes[position..<position + n]
    }
    /// A length field: no more than the bytes left (an 8-byte length past Int.max would trap on conversion).
    func readLength(_ n: Int) throws -> Int {
      guard let length = Int(exactly: try readUInt(n)), length <= bytes.count - position else { throw fail("length past the end of data") }
      return length
    }
    func readUInt(_ n: Int) throws -> UInt64 {
      var value: UInt64 = 0
      for (i, byte) in try read(n).enumerated() { value |= UInt64(byte) << (8 * UInt64(i)) }
      return value
    }
    func readLine() throws -> String {
      guard let end = bytes[position...].firstIndex(of: 0x0A) else { throw fail("unterminated line") }
      defer { position = end + 1 }
      return String(decoding: bytes[position..<end], as: UTF8.self)
    }
    func pop() throws -> PickleValue {
      guard case .value(let v)? = stack.popLast() else { throw fail("stack underflow") }
      return v
    }
    func top() throws -> PickleValue {
      guard case .value(let v)? = stack.last else { throw fail("empty stack") }
      return v
    }
    func popToMark() throws -> [PickleValue] {
      var items: [PickleValue] = []
      while let item = stack.popLast() {
        switch item {
        case .mark: return items.reversed()
        case .value(let v): items.append(v)
        }
      }
      throw fail("missing MARK")
    }
    func push(_ v: PickleValue) { stack.append(.value(v)) }
    func setItems(_ target: PickleValue, _ items: [PickleValue]) throws {
      guard items.count % 2 == 0 else { throw fail("odd number of dict items") }
      switch target {
      case .dict(let d):
        for i in stride(from: 0, to: items.count, by: 2) {
          if let existing = d.entries.firstIndex(where: { isSameKey($0.key, items[i]) }) {
            d.entries[existing].value = items[i + 1]
          } else {
            d.entries.append((items[i], items[i + 1]))
          }
        }
      case .object:
        break  // items of an unknown object: ignored
      default: throw fail("SETITEM on a non-dict")
      }
    }
    func decodeLong(_ slice: ArraySlice<UInt8>) throws -> Int {
      guard !slice.isEmpty else { return 0 }
      guard slice.count <= 8 else { throw fail("integer too large") }
      var value: UInt64 = 0
      for (i, byte) in slice.enumerated() { value |= UInt64(byte) << (8 * UInt64(i)) }
      if slice.count < 8, slice.last! & 0x80 != 0 { value |= ~UInt64(0) << (8 * UInt64(slice.count)) }
      return Int(Int64(bitPattern: value))
    }

    func call(_ callable: PickleValue, _ args: [PickleValue]) throws -> PickleValue {
      if case .global(let module, let name) = callable {
        if (module == "collections" && name == "OrderedDict") || (module == "builtins" && name == "dict") {
          let d = PickleDict()
          if let first = args.first?.tupleValue {
            for pair in first { if let kv = pair.tupleValue, kv.count == 2 { d.entries.append((kv[0], kv[1])) } }
          }
          return .dict(d)
        }
      }
      if let v = try reduce(callable, args) { return v }
      return .object(PickleObject(callable: callable, arguments: args))
    }

    while true {
      let opcode = try read(1).first!
      switch opcode {
      case 0x80: _ = try read(1)  // PROTO
      case 0x95: _ = try read(8)  // FRAME
      case 0x2E: return try pop()  // STOP
      case 0x28: stack.append(.mark)  // MARK
      case 0x4E: push(.none)
      case 0x88: push(.bool(true))
      case 0x89: push(.bool(false))
      case 0x4A: push(.int(Int(Int32(bitPattern: UInt32(try readUInt(4))))))  // BININT
      case 0x4B: push(.int(Int(try readUInt(1))))  // BININT1
      case 0x4D: push(.int(Int(try readUInt(2))))  // BININT2
      case 0x8A: push(.int(try decodeLong(try read(try readLength(1)))))  // LONG1
      case 0x8B: push(.int(try decodeLong(try read(try readLength(4)))))  // LONG4
      case 0x49:  // INT (text)
        let line = try readLine()
        if line == "01" { push(.bool(true)) } else if line == "00" { push(.bool(false)) } else {
          guard let v = Int(line) else { throw fail("bad INT") }
          push(.int(v))
        }
      case 0x4C:  // LONG (text)
        guard let v = Int(try readLine().trimmingCharacters(in: CharacterSet(charactersIn: "L"))) else { throw fail("bad LONG") }
        push(.int(v))
      case 0x47:  // BINFLOAT, big-endian
        push(.float(Double(bitPattern: try read(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) })))
      case 0x46:  // FLOAT (text)
        guard let v = Double(try readLine()) else { throw fail("bad FLOAT") }
        push(.float(v))
      case 0x58: push(.string(String(decoding: try read(try readLength(4)), as: UTF8.self)))  // BINUNICODE
      case 0x8C: push(.string(String(decoding: try read(try readLength(1)), as: UTF8.self)))  // SHORT_BINUNICODE
      case 0x8D: push(.string(String(decoding: try read(try readLength(8)), as: UTF8.self)))  // BINUNICODE8
      case 0x54: push(.string(String(decoding: try read(try readLength(4)), as: UTF8.self)))  // BINSTRING
      case 0x55: push(.string(String(decoding: try read(try readLength(1)), as: UTF8.self)))  // SHORT_BINSTRING
      case 0x42: push(.bytes(Array(try read(try readLength(4)))))  // BINBYTES
      case 0x43: push(.bytes(Array(try read(try readLength(1)))))  // SHORT_BINBYTES
      case 0x8E: push(.bytes(Array(try read(try readLength(8)))))  // BINBYTES8
      case 0x96: push(.bytes(Array(try read(try readLength(8)))))  // BYTEARRAY8
      case 0x29: push(.tuple([]))  // EMPTY_TUPLE
      case 0x74: push(.tuple(try popToMark()))  // TUPLE
      case 0x85: push(.tuple([try pop()]))  // TUPLE1
      case 0x86:
        let b = try pop(), a = try pop()
        push(.tuple([a, b]))
      case 0x87:
        let c = try pop(), b = try pop(), a = try pop()
        push(.tuple([a, b, c]))
      case 0x5D: push(.list(PickleList()))  // EMPTY_LIST
      case 0x6C:  // LIST
        let l = PickleList()
        l.items = try popToMark()
        push(.list(l))
      case 0x61:  // APPEND
        let v = try pop()
        guard case .list(let l) = try top() else { throw fail("APPEND to a non-list") }
        l.items.append(v)
      case 0x65:  // APPENDS
        let items = try popToMark()
        guard case .list(let l) = try top() else { throw fail("APPENDS to a non-list") }
        l.items += items
      case 0x7D: push(.dict(PickleDict()))  // EMPTY_DICT
      case 0x64:  // DICT
        let d = PickleDict()
        let items = try popToMark()
        push(.dict(d))
        try setItems(.dict(d), items)
      case 0x73:  // SETITEM
        let v = try pop(), k = try pop()
        try setItems(try top(), [k, v])
      case 0x75:  // SETITEMS
        let items = try popToMark()
        try setItems(try top(), items)
      case 0x8F: push(.list(PickleList()))  // EMPTY_SET (kept as a list)
      case 0x90:  // ADDITEMS
        let items = try popToMark()
        if case .list(let l) = try top() { l.items += items }
      case 0x91: push(.tuple(try popToMark()))  // FROZENSET
      case 0x63:  // GLOBAL
        let module = try readLine()
        let name = try readLine()
        push(.global(module: module, name: name))
      case 0x93:  // STACK_GLOBAL
        let name = try pop(), module = try pop()
        guard let n = name.stringValue, let m = module.stringValue else { throw fail("bad STACK_GLOBAL") }
        push(.global(module: m, name: n))
      case 0x52:  // REDUCE
        let args = try pop(), callable = try pop()
        guard let list = args.tupleValue else { throw fail("REDUCE arguments are not a tuple") }
        push(try call(callable, list))
      case 0x81:  // NEWOBJ
        let args = try pop(), cls = try pop()
        push(try call(cls, args.tupleValue ?? []))
      case 0x92:  // NEWOBJ_EX
        _ = try pop()
        let args = try pop(), cls = try pop()
        push(try call(cls, args.tupleValue ?? []))
      case 0x62:  // BUILD
        let state = try pop()
        switch try top() {
        case .dict(let d): d.state = state
        case .object(let o): o.state = state
        default: break
        }
      case 0x51: push(try persistentLoad(try pop()))  // BINPERSID
      case 0x50:  // PERSID (text)
        push(try persistentLoad(.string(try readLine())))
      case 0x71: memo[Int(try readUInt(1))] = try top()  // BINPUT
      case 0x72: memo[Int(try readUInt(4))] = try top()  // LONG_BINPUT
      case 0x70:  // PUT (text)
        guard let i = Int(try readLine()) else { throw fail("bad PUT") }
        memo[i] = try top()
      case 0x94: memo[memo.count] = try top()  // MEMOIZE
      case 0x68, 0x6A, 0x67:  // BINGET, LONG_BINGET, GET
        let index: Int
        if opcode == 0x68 { index = Int(try readUInt(1)) } else if opcode == 0x6A { index = Int(try readUInt(4)) } else {
          guard let i = Int(try readLine()) else { throw fail("bad GET") }
          index = i
        }
        guard let v = memo[index] else { throw fail("memo \(index) not found") }
        push(v)
      case 0x30: _ = try pop()  // POP
      case 0x31: _ = try popToMark()  // POP_MARK
      case 0x32: push(try top())  // DUP
      default:
        throw fail(String(format: "unsupported opcode 0x%02X", opcode))
      }
    }

  }
}

func isSameKey(_ a: PickleValue, _ b: PickleValue) -> Bool {
  switch (a, b) {
  case (.string(let x), .string(let y)): return x == y
  case (.int(let x), .int(let y)): return x == y
  default: return false
  }
}
