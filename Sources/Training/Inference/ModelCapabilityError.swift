import Foundation

/// A trained model asked for something its kind cannot do.
public enum ModelCapabilityError: Error, LocalizedError, Equatable {
  /// Box refinement outlines one foreground class.
  case boxRefinementNeedsOneClass(classes: Int)
  /// Positional prompting turns a pixel classifier's map into prompts: only the `positional` architecture has one.
  case positionalPromptingNeedsPixelClassifier(architecture: String)

  public var errorDescription: String? {
    switch self {
    case .boxRefinementNeedsOneClass(let classes): return "box refinement needs a one-class model; this one has \(classes) classes"
    case .positionalPromptingNeedsPixelClassifier(let architecture):
      return "positional prompting needs a model with architecture positional, this one is \(architecture)"
    }
  }
}
