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
    warmupThen(step, base: baseLearningRate, warmup: warmupSteps, total: totalSteps) { baseLearningRate * Foundation.pow(1 - $0, power) }
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
    warmupThen(step, base: baseLearningRate, warmup: warmupSteps, total: totalSteps) {
      minLearningRate + (baseLearningRate - minLearningRate) * 0.5 * (1 + Foundation.cos(Double.pi * $0))
    }
  }
}

/// Linear warm-up to `base` over `warmup` steps, then `decay(progress)` with progress in [0, 1] over the rest.
func warmupThen(_ step: Int, base: Double, warmup: Int, total: Int, _ decay: (Double) -> Double) -> Double {
  if step < warmup { return base * Double(step + 1) / Double(warmup) }
  let span = Swift.max(1, total - warmup)
  return decay(Swift.min(1, Double(step - warmup) / Double(span)))
}
