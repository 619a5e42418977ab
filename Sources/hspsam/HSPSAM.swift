import ArgumentParser
import Tensor

@main
struct HSPSAM: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "hspsam",
    abstract: "Prompt-free medical image segmentation (HSP-SAM) on libtorch.",
    subcommands: []
  )
}
