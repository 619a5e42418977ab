import Foundation

/// A learning rate as a function of the optimiser step (0-based).
public protocol LearningRateSchedule: Sendable {
  func learningRate(atStep step: Int) -> Double
}

/// Linear warm-up from base/warmup to base over `warmupSteps`, then polynomial decay
/// base * (1 - t / T)^power over the remaining steps (SAMed / MA-SAM style), reaching 0 at `totalSteps`.
public struct WarmupPolynomialSchedule: LearningRateSchedule, Codable, Equatable {
  public var baseLearningRate: Double
  public var warmupSteps: Int
  public var totalSteps: Int
  public var power: Double

  public init(baseLearningRate: Double, warmupSteps: Int, totalSteps: Int, power: Double = 0.9) {
    self.baseLearningRate = baseLearningRate
    self.warmupSteps = warmupSteps
    self.totalSteps = totalSteps
    self.power = power
  }

  public func learningRate(atStep step: Int) -> Double {
    if step < warmupSteps { return baseLearningRate * Double(step + 1) / Double(warmupSteps) }
    let span = Swift.max(1, totalSteps - warmupSteps)
    let progress = Swift.min(1, Double(step - warmupSteps) / Double(span))
    return baseLearningRate * Foundation.pow(1 - progress, power)
  }
}

/// Linear warm-up, then cosine decay from base to `minLearningRate` at `totalSteps`.
public struct WarmupCosineSchedule: LearningRateSchedule, Codable, Equatable {
  public var baseLearningRate: Double
  public var warmupSteps: Int
  public var totalSteps: Int
  public var minLearningRate: Double

  public init(baseLearningRate: Double, warmupSteps: Int, totalSteps: Int, minLearningRate: Double = 0) {
    self.baseLearningRate = baseLearningRate
    self.warmupSteps = warmupSteps
    self.totalSteps = totalSteps
    self.minLearningRate = minLearningRate
  }

  public func learningRate(atStep step: Int) -> Double {
    if step < warmupSteps { return baseLearningRate * Double(step + 1) / Double(warmupSteps) }
    let span = Swift.max(1, totalSteps - warmupSteps)
    let progress = Swift.min(1, Double(step - warmupSteps) / Double(span))
    return minLearningRate + (baseLearningRate - minLearningRate) * 0.5 * (1 + Foundation.cos(Double.pi * progress))
  }
}
