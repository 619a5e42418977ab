import CTorch
import Foundation

public typealias CheckpointError = FileError

/// Reads PyTorch `.pth` files as `torch.save` writes them (a zip archive holding `data.pkl` and one record per
/// storage): plain dicts, OrderedDicts with `_metadata`, nested dicts (`{"model": ...}`), float32/16/bf16 and
/// integer tensors, non-contiguous views and tensors that share a storage (they share it here too).
public enum TorchCheckpoint {
  /// Names what `path` is when it cannot be a `torch.save` file: missing, a folder, or not a zip archive.
  static func checkIsZipFile(_ path: String) throws {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { throw CheckpointError(path: path, reason: "no such file") }
    guard !isDirectory.boolValue else {
      throw CheckpointError(path: path, reason: "a folder, not a checkpoint file (expected a .pth/.pt file written by torch.save)")
    }
    let head = (FileHandle(forReadingAtPath: path).flatMap { try? $0.read(upToCount: 4) }) ?? Data()
    guard head.starts(with: [0x50, 0x4B, 0x03, 0x04]) else {
      let kind = head.isEmpty ? "an empty file" : head.starts(with: [0x80]) ? "a legacy (pre-1.6) torch.save pickle, which is not read" : "not a zip archive"
      throw CheckpointError(path: path, reason: "\(kind): expected a PyTorch checkpoint (the zip archive torch.save writes)")
    }
  }

  /// The whole pickled object, with tensors materialised.
  public static func loadObject(path: String) throws -> PickleValue {
    try checkIsZipFile(path)
    var archive: hst_archive? = nil
    guard hst_archive_open(path, &archive) == 0, let archive else {
      // A zip archive libtorch refuses: its reader's text is an assertion ("[enforce fail at inline_container.cc]")
      // or a first sentence followed by a paragraph of advice; say what the file is instead, with that sentence.
      let firstLine = takeError().split(separator: "\n").first.map(String.init) ?? ""
      let sentence = (firstLine.components(separatedBy: ". ").first ?? firstLine).trimmingCharacters(in: .whitespaces)
      if sentence.contains("failed reading zip archive") {
        throw CheckpointError(path: path, reason: "a damaged or truncated zip archive, not a readable PyTorch checkpoint (\(sentence))")
      }
      let detail = sentence.isEmpty || sentence.hasPrefix("[enforce fail") ? "" : " (\(sentence))"
      throw CheckpointError(path: path, reason: "a zip archive, but not a PyTorch checkpoint: torch.save writes one folder " +
                            "holding data.pkl and its tensor records\(detail)")
    }
    defer { hst_archive_free(archive) }

    func record(_ name: String) throws -> Tensor {
      do { return try makeTensor { hst_archive_read(archive, name, $0) } } catch {
        throw CheckpointError(path: path, reason: "record \(name): \(error)")
      }
    }
    return try unpickle(try record("data.pkl").toArray(UInt8.self), source: path, record: record)
  }

  /// Unpickles `data.pkl` the way `torch.save` writes it: persistent ids name storages, which `record` returns as
  /// 1-D uint8 tensors (`data/<key>`), and `_rebuild_tensor_v2` calls become views of them (bounds checked). The
  /// part of checkpoint reading that is ours, apart from libtorch's zip reader: what the fuzz tests feed.
  public static func unpickle(_ bytes: [UInt8], source path: String, record: @escaping (String) throws -> Tensor) throws -> PickleValue {
    var storages: [String: Tensor] = [:]
    var unpickler = Unpickler()
    unpickler.persistentLoad = { pid in
      // ('storage', storage_type, key, location, numel)
      guard let fields = pid.tupleValue, fields.count >= 3, fields[0].stringValue == "storage",
            case .global(_, let typeName) = fields[1], let key = fields[2].stringValue ?? fields[2].intValue.map(String.init)
      else { throw CheckpointError(path: path, reason: "unsupported persistent id in data.pkl") }
      guard let dtype = storageDType(typeName) else {
        throw CheckpointError(path: path, reason: "unsupported storage type \(typeName)")
      }
      if storages[key] == nil { storages[key] = try record("data/\(key)") }
      return .tuple([.string("storage"), .int(Int(dtype.rawValue)), .string(key)])
    }
    unpickler.reduce = { callable, args in
      guard case .global(let module, let name) = callable else { return nil }
      switch (module, name) {
      case ("torch._utils", "_rebuild_tensor_v2"), ("torch._utils", "_rebuild_tensor"):
        // (storage, storage_offset, size, stride, requires_grad?, hooks?, metadata?)
        guard args.count >= 4, let s = args[0].tupleValue, s.count == 3, let code = s[1].intValue,
              let dtype = DType(rawValue: Int32(truncatingIfNeeded: code)), let key = s[2].stringValue, let storage = storages[key],
              let offset = args[1].intValue, let sizes = args[2].tupleValue?.compactMap(\.intValue),
              let strides = args[3].tupleValue?.compactMap(\.intValue), sizes.count == strides.count
        else { throw CheckpointError(path: path, reason: "malformed tensor record") }
        let s64 = sizes.map(Int64.init), st64 = strides.map(Int64.init)
        do {
          return .tensor(try makeTensor {
            hst_from_storage(storage.handle, dtype.rawValue, s64, st64, Int64(s64.count), Int64(offset), $0)
          })
        } catch { throw CheckpointError(path: path, reason: "tensor in storage \(key): \(error)") }
      case ("torch._utils", "_rebuild_parameter"), ("torch._utils", "_rebuild_parameter_with_state"):
        return args.first
      default:
        return nil
      }
    }
    do { return try unpickler.load(bytes) } catch let error as PickleError {
      throw CheckpointError(path: path, reason: error.message)
    }
  }

  /// Every tensor in the file with its dotted path (`model.image_encoder.x`), in file order.
  public static func loadTensors(path: String) throws -> [(name: String, tensor: Tensor)] {
    flattenTensors(try loadObject(path: path))
  }

  /// The model state dict inside a checkpoint: the top-level dict of tensors, or the one under
  /// `model` / `state_dict` / `model_state_dict` when the file wraps it.
  public static func loadStateDict(path: String) throws -> [(name: String, tensor: Tensor)] {
    let object = try loadObject(path: path)
    guard case .dict(let top) = object else { throw CheckpointError(path: path, reason: "does not hold a dict of tensors") }
    for wrapper in ["model", "state_dict", "model_state_dict"] {
      if let inner = top.entries.first(where: { $0.key.stringValue == wrapper })?.value, case .dict = inner {
        return flattenTensors(inner)
      }
    }
    let tensors = flattenTensors(object)
    if tensors.isEmpty { throw CheckpointError(path: path, reason: "holds no tensors") }
    return tensors
  }

  /// Every tensor under `value` with its dotted path. A list or dict met again below itself (a pickle can make a
  /// container hold itself through its memo) is not entered twice, and nesting deeper than 256 is not followed.
  static func flattenTensors(_ value: PickleValue, prefix: String = "") -> [(name: String, tensor: Tensor)] {
    var open = Set<ObjectIdentifier>()
    func walk(_ value: PickleValue, _ prefix: String, _ depth: Int) -> [(name: String, tensor: Tensor)] {
      guard depth < 256 else { return [] }
      func path(_ key: String) -> String { prefix.isEmpty ? key : prefix + "." + key }
      switch value {
      case .tensor(let t): return [(prefix, t)]
      case .dict(let d):
        guard open.insert(ObjectIdentifier(d)).inserted else { return [] }
        defer { open.remove(ObjectIdentifier(d)) }
        return d.entries.flatMap { entry -> [(name: String, tensor: Tensor)] in
          walk(entry.value, path(entry.key.stringValue ?? entry.key.intValue.map(String.init) ?? "?"), depth + 1)
        }
      case .list(let l):
        guard open.insert(ObjectIdentifier(l)).inserted else { return [] }
        defer { open.remove(ObjectIdentifier(l)) }
        return l.items.enumerated().flatMap { walk($1, path("\($0)"), depth + 1) }
      case .tuple(let items):
        return items.enumerated().flatMap { walk($1, path("\($0)"), depth + 1) }
      default: return []
      }
    }
    return walk(value, prefix, 0)
  }

  static func storageDType(_ typeName: String) -> DType? {
    switch typeName {
    case "FloatStorage": return .float32
    case "HalfStorage": return .float16
    case "BFloat16Storage": return .bfloat16
    case "LongStorage": return .int64
    case "IntStorage": return .int32
    case "BoolStorage": return .bool
    case "ByteStorage": return .uint8
    case "DoubleStorage": return .float64
    default: return nil
    }
  }
}
