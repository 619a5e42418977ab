import Tensor

/// `torch.nn.Conv2d` on NCHW input. Keys `weight` (out, in/groups, kH, kW) and `bias`.
public final class Conv2d: Module, UnaryLayer {
  public let weight: Tensor
  public private(set) var bias: Tensor?
  public let stride: (Int, Int)
  public let padding: (Int, Int)
  public let dilation: (Int, Int)
  public let groups: Int

  public init(_ inChannels: Int, _ outChannels: Int, kernelSize: (Int, Int), stride: (Int, Int) = (1, 1),
              padding: (Int, Int) = (0, 0), dilation: (Int, Int) = (1, 1), groups: Int = 1,
              bias hasBias: Bool = true) throws {
    precondition(inChannels % groups == 0 && outChannels % groups == 0, "channels must divide by groups")
    let shape = [outChannels, inChannels / groups, kernelSize.0, kernelSize.1]
    weight = try makeParameter(shape, Initialization.defaultWeight)
    let fanIn = Initialization.fanIn(shape)
    bias = hasBias ? try makeParameter([outChannels]) { try Initialization.defaultBias($0, fanIn: fanIn) } : nil
    self.stride = stride
    self.padding = padding
    self.dilation = dilation
    self.groups = groups
    super.init()
    registerParameter("weight", weight)
    if let bias { registerParameter("bias", bias) }
  }

  /// Square kernel, stride and padding.
  public convenience init(_ inChannels: Int, _ outChannels: Int, kernelSize: Int, stride: Int = 1, padding: Int = 0,
                          groups: Int = 1, bias: Bool = true) throws {
    try self.init(inChannels, outChannels, kernelSize: (kernelSize, kernelSize), stride: (stride, stride),
                  padding: (padding, padding), groups: groups, bias: bias)
  }

  public func callAsFunction(_ x: Tensor) throws -> Tensor {
    try x.conv2d(weight: weight, bias: bias, stride: stride, padding: padding, dilation: dilation, groups: groups)
  }
}

/// `torch.nn.ConvTranspose2d`. Keys `weight` (in, out/groups, kH, kW) and `bias`.
public final class ConvTranspose2d: Module, UnaryLayer {
  public let weight: Tensor
  public let bias: Tensor?
  public let stride: (Int, Int)
  public let padding: (Int, Int)
  public let outputPadding: (Int, Int)
  public let groups: Int

  public init(_ inChannels: Int, _ outChannels: Int, kernelSize: Int, stride: Int = 1, padding: Int = 0,
              outputPadding: Int = 0, groups: Int = 1, bias hasBias: Bool = true) throws {
    let shape = [inChannels, outChannels / groups, kernelSize, kernelSize]
    weight = try makeParameter(shape, Initialization.defaultWeight)
    let fanIn = Initialization.fanIn(shape)
    bias = hasBias ? try makeParameter([outChannels]) { try Initialization.defaultBias($0, fanIn: fanIn) } : nil
    self.stride = (stride, stride)
    self.padding = (padding, padding)
    self.outputPadding = (outputPadding, outputPadding)
    self.groups = groups
    super.init()
    registerParameter("weight", weight)
    if let bias { registerParameter("bias", bias) }
  }

  public func callAsFunction(_ x: Tensor) throws -> Tensor {
    // A trained bias is added after the convolution: oneDNN computes a channels-last transposed convolution's bias
    // gradient with its reference (scalar) kernel, ~2 % of a CPU training step under perf; the sum libtorch's
    // autograd takes for a broadcast add is vectorised. Same numbers up to rounding.
    if let bias, bias.requiresGrad, Torch.isGradEnabled {
      let y = try x.convTranspose2d(weight: weight, bias: nil, stride: stride, padding: padding,
                                    outputPadding: outputPadding, groups: groups)
      return try y + bias.view([1, bias.size(0), 1, 1])
    }
    return try x.convTranspose2d(weight: weight, bias: bias, stride: stride, padding: padding,
                                 outputPadding: outputPadding, groups: groups)
  }
}
