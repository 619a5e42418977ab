import Foundation
import Tensor

/// The base of every layer and model: a tree of named parameters, buffers and children whose flattened,
/// dot-joined names equal PyTorch `state_dict` keys (`image_encoder.blocks.0.attn.qkv.weight`).
///
/// Subclasses create their tensors and children in `init` and register each under its PyTorch attribute name.
/// Loading copies values into the registered tensors in place, so the stored properties stay valid.
open class Module {
  public private(set) var isTraining = true
  private(set) var parameterEntries: [(key: String, tensor: Tensor)] = []
  private(set) var bufferEntries: [(key: String, tensor: Tensor, isPersistent: Bool)] = []
  private(set) var childEntries: [(key: String, module: Module)] = []

  public init() {}

  // MARK: - Registration

  /// Registers a trainable parameter (requires grad) under `key`.
  @discardableResult
  public func registerParameter(_ key: String, _ tensor: Tensor) -> Tensor {
    precondition(!key.contains("."), "parameter key '\(key)' must not contain '.'")
    _ = try? tensor.requiresGrad(true)
    parameterEntries.append((key, tensor))
    return tensor
  }

  /// Registers a buffer; non-persistent buffers are not part of the state dict (PyTorch `persistent=False`).
  @discardableResult
  public func registerBuffer(_ key: String, _ tensor: Tensor, isPersistent: Bool = true) -> Tensor {
    bufferEntries.append((key, tensor, isPersistent))
    return tensor
  }

  /// Registers a child module; its names are prefixed with `key.`.
  @discardableResult
  public func registerChild<M: Module>(_ key: String, _ module: M) -> M {
    childEntries.append((key, module))
    return module
  }

  /// Replaces a buffer's tensor (for buffers recomputed from others, e.g. after loading).
  public func replaceBuffer(_ key: String, with tensor: Tensor) {
    guard let index = bufferEntries.firstIndex(where: { $0.key == key }) else {
      preconditionFailure("no buffer '\(key)' in \(type(of: self))")
    }
    bufferEntries[index].tensor = tensor
  }

  public var children: [(key: String, module: Module)] { childEntries }

  // MARK: - Traversal

  /// Every parameter with its full name, in PyTorch's order (own parameters, then children).
  public func namedParameters(prefix: String = "") -> [(name: String, tensor: Tensor)] {
    var result = parameterEntries.map { (prefix + $0.key, $0.tensor) }
    for (key, child) in childEntries { result += child.namedParameters(prefix: prefix + key + ".") }
    return result
  }

  public func namedBuffers(prefix: String = "", persistentOnly: Bool = false) -> [(name: String, tensor: Tensor)] {
    var result = bufferEntries.filter { !persistentOnly || $0.isPersistent }.map { (prefix + $0.key, $0.tensor) }
    for (key, child) in childEntries {
      result += child.namedBuffers(prefix: prefix + key + ".", persistentOnly: persistentOnly)
    }
    return result
  }

  public func parameters() -> [Tensor] { namedParameters().map(\.tensor) }

  /// Parameters that currently require grad (those an optimiser should update).
  public func trainableParameters() -> [(name: String, tensor: Tensor)] {
    namedParameters().filter { $0.tensor.requiresGrad }
  }

  /// Parameters and persistent buffers in PyTorch `state_dict()` order.
  public func stateDict(prefix: String = "") -> [(name: String, tensor: Tensor)] {
    var result = parameterEntries.map { (prefix + $0.key, $0.tensor) }
    result += bufferEntries.filter(\.isPersistent).map { (prefix + $0.key, $0.tensor) }
    for (key, child) in childEntries { result += child.stateDict(prefix: prefix + key + ".") }
    return result
  }

  /// The module at a dotted path (`"blocks.0.attn"`), or nil.
  public func module(at path: String) -> Module? {
    if path.isEmpty { return self }
    var current: Module = self
    for part in path.split(separator: ".") {
      guard let next = current.childEntries.first(where: { $0.key == part })?.module else { return nil }
      current = next
    }
    return current
  }

  /// Visits this module and every descendant with its dotted path.
  public func forEachModule(prefix: String = "", _ body: (String, Module) throws -> Void) rethrows {
    try body(prefix, self)
    for (key, child) in childEntries {
      try child.forEachModule(prefix: prefix.isEmpty ? key : prefix + "." + key, body)
    }
  }

  // MARK: - Modes

  /// Training or evaluation mode, recursively (affects dropout and batch norm, as in PyTorch).
  open func train(_ isOn: Bool = true) {
    isTraining = isOn
    for (_, child) in childEntries { child.train(isOn) }
  }

  public func eval() { train(false) }

  /// Stops gradients for every parameter (frozen weights receive no updates).
  public func freeze() throws { for p in parameters() { try p.requiresGrad(false) } }
  public func unfreeze() throws { for p in parameters() { try p.requiresGrad(true) } }

  /// Sets every parameter's gradient to none.
  public func zeroGrad() throws { for p in parameters() { try p.zeroGrad() } }

  /// Called after the state was loaded or moved to another device (children first). Override to drop or
  /// recompute derived tensors (TinyViT's attention bias table depends on loaded weights).
  open func didLoadState() throws {}

  func notifyDidLoadState() throws {
    for (_, child) in childEntries { try child.notifyDidLoadState() }
    try didLoadState()
  }

  /// Moves every parameter and buffer to `device` in place (so layers' stored tensors and an optimiser built
  /// later follow), then lets each module drop what it derived from them (`didLoadState`).
  public func to(_ device: Device) throws {
    for (_, tensor) in namedParameters() + namedBuffers() where tensor.device != device { try tensor.move(to: device) }
    try notifyDidLoadState()
  }

  /// The device of the first parameter (CPU for a module without parameters). Asked per image and per batch, so it
  /// stops at the first parameter instead of listing them all.
  public var device: Device { firstParameter?.device ?? .cpu }

  var firstParameter: Tensor? { parameterEntries.first?.tensor ?? childEntries.lazy.compactMap { $0.module.firstParameter }.first }

  /// The number of parameter elements.
  public var parameterCount: Int { parameters().reduce(0) { $0 + $1.count } }
}

/// A module with one input and one output, so it can sit in a `Sequential`.
public protocol UnaryLayer: Module {
  func callAsFunction(_ x: Tensor) throws -> Tensor
}
