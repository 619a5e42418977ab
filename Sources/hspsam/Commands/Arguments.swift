import ArgumentParser
import Training

extension LiteMedSAMBaseline.Mode: ExpressibleByArgument {}
