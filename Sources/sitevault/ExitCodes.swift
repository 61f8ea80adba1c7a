import ArgumentParser
import VaultCore

/// The documented exit codes (also in README.md and `sitevault --help`).
enum Exit {
    static let success: Int32 = 0
    static let failure: Int32 = 1
    static let partial: Int32 = 3
    static let damaged: Int32 = 4
    static let noRepository: Int32 = 10
    static let locked: Int32 = 11
    static let wrongPassword: Int32 = 12
    static let targetNotEmpty: Int32 = 13
    static let unsupportedVersion: Int32 = 14
    static let interrupted: Int32 = 130

    static func code(for e: VaultError) -> Int32 {
        // A remote store whose server cannot be reached at all (still so after the retries): no
        // repository at that location, as for a folder that is not mounted.
        if e.code == .transient && e.context["unreachable"] != nil { return noRepository }
        switch e.code {
        case .repositoryNotFound: return noRepository
        case .locked: return locked
        case .wrongPassword: return wrongPassword
        case .targetNotEmpty: return targetNotEmpty
        case .unsupportedVersion: return unsupportedVersion
        case .partial: return partial
        case .damaged: return damaged
        case .cancelled: return interrupted
        default: return failure
        }
    }
}
