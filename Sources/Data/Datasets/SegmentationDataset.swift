import Foundation
import Tensor

/// How a mask file is named from its image's stem.
public enum MaskNaming: Codable, Equatable, Sendable {
  /// `images/x.jpg` <-> `masks/x.png` (any extensions).
  case sameStem
  /// `x` <-> `x<suffix>` (ISIC 2018: "_segmentation").
  case suffix(String)
  /// `x` <-> `<prefix>x`.
  case prefix(String)
  /// `x` <-> `<prefix>x<suffix>`.
  case affixes(prefix: String, suffix: String)

  /// What comes before and after the image's stem in its mask's stem.
  var affixes: (prefix: String, suffix: String) {
    switch self {
    case .sameStem: return ("", "")
    case .suffix(let s): return ("", s)
    case .prefix(let p): return (p, "")
    case .affixes(let p, let s): return (p, s)
    }
  }

  public func maskStem(for imageStem: String) -> String { affixes.prefix + imageStem + affixes.suffix }

  /// The rule as people read it: `<stem>_segmentation`.
  public var pattern: String { maskStem(for: "<stem>") }

  /// The image stem a mask stem belongs to; nil when the mask lacks the prefix or suffix.
  public func imageStem(forMask maskStem: String) -> String? {
    let (p, s) = affixes
    guard maskStem.count > p.count + s.count, maskStem.hasPrefix(p), maskStem.hasSuffix(s) else { return nil }
    return String(maskStem.dropFirst(p.count).dropLast(s.count))
  }

  /// For folders whose masks are not named like their images (ISIC 2018: `ISIC_0000000_segmentation.png`), so a
  /// user need not say so: the one prefix/suffix rule that gives every image stem a mask, from the candidates of
  /// the first (each mask stem that contains it); nil when none or several rules do.
  public static func infer(imageStems: [String], maskStems: Set<String>) -> MaskNaming? {
    guard let first = imageStems.first else { return nil }
    return unique(maskStems.flatMap { rules(image: first, mask: $0) }) { rule in
      imageStems.allSatisfy { maskStems.contains(rule.maskStem(for: $0)) }
    }
  }

  /// The same, the other way round (`evaluate --pred --gt`): the one rule that gives every mask stem an image
  /// stem (a prediction named like its image); other files among the images, such as `_prob` maps, are left alone.
  public static func infer(maskStems: [String], imageStems: Set<String>) -> MaskNaming? {
    guard let first = maskStems.first else { return nil }
    return unique(imageStems.flatMap { rules(image: $0, mask: first) }) { rule in
      maskStems.allSatisfy { rule.imageStem(forMask: $0).map(imageStems.contains) ?? false }
    }
  }

  /// Every rule under which `mask` is `image` with a prefix and/or suffix (one per place `image` occurs in it).
  /// Compared as Swift strings (characters), not through Foundation's `range(of:)`, which trapped on stems with NUL
  /// characters (found by `NamingFuzzTests`).
  private static func rules(image: String, mask: String) -> [MaskNaming] {
    guard !image.isEmpty else { return [] }
    var found: [MaskNaming] = [], start = mask.startIndex
    while start < mask.endIndex {
      if mask[start...].hasPrefix(image), let end = mask.index(start, offsetBy: image.count, limitedBy: mask.endIndex) {
        let (p, s) = (String(mask[..<start]), String(mask[end...]))
        if !(p.isEmpty && s.isEmpty) { found.append(p.isEmpty ? .suffix(s) : s.isEmpty ? .prefix(p) : .affixes(prefix: p, suffix: s)) }
      }
      start = mask.index(after: start)
    }
    return found
  }

  private static func unique(_ candidates: [MaskNaming], pairsAll: (MaskNaming) -> Bool) -> MaskNaming? {
    var working: [MaskNaming] = []
    for rule in candidates where !working.contains(rule) && pairsAll(rule) { working.append(rule) }
    return working.count == 1 ? working[0] : nil
  }
}

/// How mask values become class indices.
public enum MaskEncoding: Codable, Equatable, Sendable {
  /// Binary: foreground where the grey value > threshold (1), else 0.
  case threshold(Int)
  /// Multi-class: grey value `labels[i]` is class i (0 is background); other values are an error.
  case labelValues([Int])
  /// Multi-class: RGB colour `palette[i]` is class i.
  case palette([[Int]])
}

/// A paired image and mask.
public struct SegmentationSample: Equatable, Sendable {
  public let stem: String
  public let imagePath: String
  public let maskPath: String
}

/// A folder dataset: `images/` and `masks/` (also `image/`, `mask/`, as PraNet's TrainDataset) paired by stem,
/// optionally restricted to a split file (one stem per line).
public struct SegmentationDataset: Sendable {
  public let name: String
  public let root: String
  public let samples: [SegmentationSample]
  public let encoding: MaskEncoding
  /// How its masks are named: as given, or as inferred (commands say so when it is not the image's stem).
  public let naming: MaskNaming

  public static let imageExtensions: Set<String> = ["png", "jpg", "jpeg", "bmp", "tif", "tiff"]

  /// Opens `root`. Errors name the folder, split file or image that is wrong.
  public init(root: String, name: String? = nil, split: String? = nil, naming: MaskNaming = .sameStem,
              encoding: MaskEncoding = .binary) throws {
    let base = URL(fileURLWithPath: root)
    func folder(_ candidates: [String]) -> URL? {
      candidates.map { base.appendingPathComponent($0) }.first {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: $0.path, isDirectory: &isDirectory) && isDirectory.boolValue
      }
    }
    guard let imagesFolder = folder(["images", "image", "Images"]) else {
      throw DatasetError(path: root, reason: "no images/ folder")
    }
    guard let masksFolder = folder(["masks", "mask", "Masks", "Ground Truth"]) else {
      throw DatasetError(path: root, reason: "no masks/ folder (a segmentation dataset needs masks)")
    }
    let images = try Self.listByStem(imagesFolder)
    let masks = try Self.listByStem(masksFolder)
    var stems = images.keys.sorted(by: Self.naturalOrder)
    if let split {
      let splitPath = split.hasPrefix("/") ? split : base.appendingPathComponent(split).path
      guard let text = try? String(contentsOfFile: splitPath, encoding: .utf8) else {
        throw DatasetError(path: splitPath, reason: "split file cannot be read")
      }
      let listed = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
        .filter { !$0.isEmpty && !$0.hasPrefix("#") }
        .map { URL(fileURLWithPath: $0).deletingPathExtension().lastPathComponent }
      if let unknown = listed.first(where: { images[$0] == nil }) {
        throw DatasetError(path: splitPath, reason: "stem '\(unknown)' has no image in \(imagesFolder.path)")
      }
      // A stem listed twice would be trained on, or scored, twice: most likely a mistake in the file.
      var seen = Set<String>()
      if let repeated = listed.first(where: { !seen.insert($0).inserted }) {
        throw DatasetError(path: splitPath, reason: "stem '\(repeated)' is listed twice")
      }
      stems = listed
    }
    guard !stems.isEmpty else { throw DatasetError(path: imagesFolder.path, reason: "no image files") }
    // Masks named otherwise than their images: the one consistent prefix/suffix, if there is exactly one.
    var naming = naming
    if naming == .sameStem, stems.contains(where: { masks[$0] == nil }),
       let inferred = MaskNaming.infer(imageStems: stems, maskStems: Set(masks.keys)) {
      naming = inferred
    }
    samples = try stems.map { stem in
      let maskStem = naming.maskStem(for: stem)
      guard let mask = masks[maskStem] else {
        throw DatasetError(path: images[stem]!, reason: "no mask named '\(maskStem).*' in \(masksFolder.path)")
      }
      return SegmentationSample(stem: stem, imagePath: images[stem]!, maskPath: mask)
    }
    self.root = root
    self.name = name ?? Self.defaultName(root: root)
    self.encoding = encoding
    self.naming = naming
  }

  /// A dataset's name when none is given: its folder's name (`../shared/data/CVC-ClinicDB` -> `CVC-ClinicDB`).
  public static func defaultName(root: String) -> String {
    URL(fileURLWithPath: root).standardizedFileURL.lastPathComponent
  }

  init(name: String, root: String, samples: [SegmentationSample], encoding: MaskEncoding, naming: MaskNaming) {
    self.name = name
    self.root = root
    self.samples = samples
    self.encoding = encoding
    self.naming = naming
  }

  /// A subset with the given samples (same name, root, encoding and naming).
  public func subset(_ samples: [SegmentationSample], name: String? = nil) -> SegmentationDataset {
    SegmentationDataset(name: name ?? self.name, root: root, samples: samples, encoding: encoding, naming: naming)
  }

  /// What a command says of how this dataset's masks are read, where it is not the default (same stem, binary
  /// by > 127): e.g. "masks named <stem>_segmentation, rule labels:0,128,255"; nil for the default.
  public var maskSummary: String? {
    let parts = (naming == .sameStem ? [] : ["masks named \(naming.pattern)"]) + (encoding == .binary ? [] : ["mask rule \(encoding.rule)"])
    return parts.isEmpty ? nil : parts.joined(separator: ", ")
  }

  /// Reads every image's and mask's header, nothing decoded (about a second per thousand pairs), so that a file
  /// that is not an image, or a mask of another size than its image, is named before a long run, not an hour into
  /// it. A file truncated after its header passes here; reading it later names it.
  public func checkFiles() throws {
    for sample in samples { try Self.checkHeaders(sample) }
  }

  /// `checkFiles` that goes on past a bad pair: the dataset of the pairs that pass, and the error of each pair
  /// that does not, in dataset order (`--skip-invalid`). `decoding` reads every pair in full (`read`), so that a
  /// file cut short after its header, or a mask value outside the rule, is found too: `train` needs that, since
  /// its prefix cache must not meet a bad pair mid-run; `evaluate` finds those as it goes and leaves them out then.
  public func withoutUnreadablePairs(decoding: Bool = false) -> (readable: SegmentationDataset, skipped: [FileError]) {
    // Each pair is checked on its own, so the checks run on every core (900 Kvasir-SEG pairs decoded: 4 s on 2 cores).
    let failures = ConcurrentSlots<FileError>(count: samples.count)  // written for the pairs that fail
    DispatchQueue.concurrentPerform(iterations: samples.count) { i in
      let sample = samples[i]
      do {
        if decoding { _ = try read(sample) } else { try Self.checkHeaders(sample) }
      } catch let error as FileError {
        failures[i] = error
      } catch {
        failures[i] = FileError(path: sample.imagePath, reason: error.localizedDescription)
      }
    }
    var readable: [SegmentationSample] = [], skipped: [FileError] = []
    for (sample, failure) in zip(samples, failures.values) {
      if let failure { skipped.append(failure) } else { readable.append(sample) }
    }
    return (subset(readable), skipped)
  }

  /// `--skip-invalid` left nothing of a dataset (`train` and `evaluate` say it alike).
  public static func nothingReadable(_ name: String, listed: Int) -> DatasetError {
    DatasetError(path: name, reason: "none of its \(listed) image/mask pairs can be read (reasons above)")
  }

  static func checkHeaders(_ sample: SegmentationSample) throws {
    let image = try ImageIO.size(of: sample.imagePath), mask = try ImageIO.size(of: sample.maskPath)
    try ImageIO.checkPixelLimit(sample.imagePath, width: image.width, height: image.height)
    try checkSameSize(image: image, mask: mask, maskPath: sample.maskPath)
  }

  /// Decodes one pair: the image, and its mask as a class index per pixel by this dataset's mask rule. The error
  /// names the file: unreadable, a mask of another size than its image, a mask value outside the rule.
  public func read(_ sample: SegmentationSample) throws -> (image: Image, classes: [UInt8]) {
    let image = try ImageIO.read(sample.imagePath), mask = try ImageIO.read(sample.maskPath)
    try Self.checkSameSize(image: (image.width, image.height), mask: (mask.width, mask.height), maskPath: sample.maskPath,
                           imageName: "image \(sample.imagePath)")
    return (image, try encoding.classIndices(mask, path: sample.maskPath))
  }

  /// `imageName`: how the message names the image ("image" where the pair is plain from the listing; its path
  /// where the error may surface mid-run, far from any listing).
  static func checkSameSize(image: (width: Int, height: Int), mask: (width: Int, height: Int), maskPath: String,
                            imageName: String = "image") throws {
    guard image != mask else { return }
    throw DatasetError(path: maskPath, reason: "mask is \(mask.width)x\(mask.height), \(imageName) is \(image.width)x\(image.height)")
  }

  /// A seeded train/validation split: `fraction` of the samples (at least 1 when fraction > 0) go to validation.
  public func splitValidation(fraction: Double, seed: UInt64) -> (train: SegmentationDataset, validation: SegmentationDataset) {
    var generator = SplitMix64(seed: seed)
    var order = Array(samples.indices)
    order.shuffle(using: &generator)
    let count = fraction <= 0 ? 0 : Swift.max(1, Int((Double(samples.count) * fraction).rounded()))
    let validation = Set(order.prefix(count))
    return (subset(samples.indices.filter { !validation.contains($0) }.map { samples[$0] }),
            subset(samples.indices.filter { validation.contains($0) }.map { samples[$0] }, name: name + "-val"))
  }

  /// PraNet's layout: `TrainDataset/` plus `TestDataset/<set>/` (each with images and masks).
  public static func openPraNet(root: String) throws -> (train: SegmentationDataset, tests: [SegmentationDataset]) {
    let base = URL(fileURLWithPath: root)
    let train = try SegmentationDataset(root: base.appendingPathComponent("TrainDataset").path, name: "TrainDataset")
    let testRoot = base.appendingPathComponent("TestDataset")
    let sets = (try? FileManager.default.contentsOfDirectory(atPath: testRoot.path)) ?? []
    let tests = try sets.sorted().map { try SegmentationDataset(root: testRoot.appendingPathComponent($0).path, name: $0) }
    guard !tests.isEmpty else { throw DatasetError(path: testRoot.path, reason: "no test sets") }
    return (train, tests)
  }

  /// stem -> path of the image files directly inside `folder`; two files with one stem are an error.
  public static func listByStem(_ folder: URL) throws -> [String: String] {
    var files: [String: String] = [:]
    for name in try FileManager.default.contentsOfDirectory(atPath: folder.path) {
      let url = folder.appendingPathComponent(name)
      guard imageExtensions.contains(url.pathExtension.lowercased()) else { continue }
      let stem = url.deletingPathExtension().lastPathComponent
      if files[stem] != nil { throw DatasetError(path: url.path, reason: "two files with stem '\(stem)'") }
      files[stem] = url.path
    }
    return files
  }

  /// Numbers in numeric order ("2" < "10"), then other stems alphabetically.
  public static func naturalOrder(_ a: String, _ b: String) -> Bool {
    switch (Int(a), Int(b)) {
    case let (x?, y?): return x < y
    case (.some, nil): return true
    case (nil, .some): return false
    default: return a < b
    }
  }
}

public typealias DatasetError = FileError
